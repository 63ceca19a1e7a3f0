// DOM building. User content only ever goes through textContent, never innerHTML.

import { ApiError } from "./api.js";
import { formatSize, isImage } from "./media.js";

export const $ = (id) => document.getElementById(id);

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "className") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2).toLowerCase(), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// What to tell the user about a failed call, in their words rather than the server's codes.
export function describe(error) {
  if (error instanceof ApiError) {
    if (error.code === "invalid_credentials") return "Wrong username or password.";
    if (error.code === "username_taken") return "That username is taken. Pick another one.";
  }
  return error && error.message ? error.message : "Something went wrong. Please try again.";
}

// A stable colour per user: the same name always gets the same one of AUTHOR_COLOURS colours
// (css/app.css, .author-0 …), each chosen to pass 4.5:1 on both schemes' message backgrounds.
export const AUTHOR_COLOURS = 8;

export function authorClass(username) {
  let hash = 0;
  for (const ch of username.toLowerCase()) hash = (hash * 31 + ch.codePointAt(0)) >>> 0;
  return `author author-${hash % AUTHOR_COLOURS}`;
}

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const dateTimeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

function isToday(date) {
  return date.toDateString() === new Date().toDateString();
}

// Quick reactions offered by the picker; any emoji arriving from others is shown too.
export const QUICK_EMOJIS = ["👍", "❤️", "😂", "🎉", "😮", "👀"];

// A stored message. With `controls` ({me, canDelete, onEdit, onDelete, onReact}) it has its
// actions: reactions to toggle, a picker, Edit (own) and Delete (own, or any for the admin).
// With `files` ({imageUrl, onDownload}) its attachments show: images inline, others as cards.
export function messageItem(message, mine, controls = null, files = null) {
  const created = new Date(message.createdAt);
  const classes = ["message", mine ? "mine" : "", message.deleted ? "deleted" : ""].filter(Boolean).join(" ");
  return el(
    "li",
    { className: classes, "data-id": message.messageId },
    el(
      "header",
      {},
      el("span", { className: authorClass(message.username), text: message.username }),
      el("time", { datetime: message.createdAt, title: created.toLocaleString(), text: (isToday(created) ? timeFormat : dateTimeFormat).format(created) }),
      message.editedAt && !message.deleted ? el("span", { className: "edited", title: `Edited ${new Date(message.editedAt).toLocaleString()}`, text: "(edited)" }) : null,
    ),
    message.deleted ? el("p", { className: "text tombstone", text: "This message was deleted." }) : el("p", { className: "text", text: message.text }),
    files && !message.deleted && message.attachments?.length ? attachmentsBlock(message.attachments, files) : null,
    controls && !message.deleted ? reactionsRow(message, controls) : null,
    controls && !message.deleted ? actionsRow(message, mine, controls) : null,
  );
}

const describeFile = (a) => `${a.contentType}, ${formatSize(a.size)}`;

// Images in a box of fixed size (css: .attachment-image), so the list does not move when one
// loads; other files as a card with a download link. Bytes come as blob URLs (the download
// call needs the bearer token, which an <img src> or a plain link cannot send).
function attachmentsBlock(attachments, { imageUrl, onDownload }) {
  return el(
    "div",
    { className: "attachments" },
    ...attachments.map((a) => {
      const link = el("a", { href: "#", className: "download", "aria-label": `Download ${a.filename}`, text: "Download" });
      link.addEventListener("click", (e) => {
        e.preventDefault();
        onDownload(a);
      });
      if (isImage(a.contentType)) {
        const img = el("img", { className: "attachment-image", alt: a.filename, width: "240", height: "180" });
        imageUrl(a).then(
          (url) => (img.src = url),
          () => img.replaceWith(el("span", { className: "attachment-image error small", role: "img", "aria-label": a.filename, text: "Image not available" })),
        );
        return el("figure", { className: "attachment" }, img, el("figcaption", { className: "small muted" }, el("span", { text: a.filename }), " ", link));
      }
      return el(
        "div",
        { className: "attachment file-card" },
        el("span", { className: "file-name", text: a.filename }),
        el("span", { className: "small muted", text: describeFile(a) }),
        link,
      );
    }),
  );
}

function reactionsRow(message, { me, onReact }) {
  const reactions = Object.entries(message.reactions || {});
  if (reactions.length === 0) return null;
  return el(
    "div",
    { className: "reactions" },
    ...reactions.map(([emoji, users]) => {
      const reacted = users.some((u) => u.toLowerCase() === me.toLowerCase());
      return el(
        "button",
        { type: "button", className: "reaction", "aria-pressed": String(reacted), title: users.join(", "), "aria-label": `${emoji} ${users.length}: ${users.join(", ")}`, onClick: () => onReact(emoji, !reacted) },
        `${emoji} ${users.length}`,
      );
    }),
  );
}

function actionsRow(message, mine, { me, canDelete, onEdit, onDelete, onReact }) {
  const picker = el(
    "div",
    { className: "picker", hidden: true },
    ...QUICK_EMOJIS.map((emoji) => {
      const users = (message.reactions || {})[emoji] || [];
      const reacted = users.some((u) => u.toLowerCase() === me.toLowerCase());
      return el("button", { type: "button", "aria-label": `React with ${emoji}`, onClick: () => onReact(emoji, !reacted) }, emoji);
    }),
  );
  const toggle = el("button", { type: "button", "aria-label": "Add reaction", title: "Add reaction", "aria-expanded": "false" }, "☺");
  toggle.addEventListener("click", () => {
    picker.hidden = !picker.hidden;
    toggle.setAttribute("aria-expanded", String(!picker.hidden));
  });
  return el(
    "div",
    { className: "message-actions" },
    toggle,
    picker,
    // Plain names ("Edit", "Delete"): the message around them says whose; and a label lookup for
    // "Message" must keep finding only the message box.
    mine ? el("button", { type: "button", onClick: onEdit }, "Edit") : null,
    mine || canDelete ? el("button", { type: "button", onClick: onDelete }, "Delete") : null,
  );
}

// Our own message before the server has stored it: "Sending…", or why it was not sent.
export function pendingItem(pending, username, { onRetry, onDiscard }) {
  const failed = pending.status === "failed";
  return el(
    "li",
    { className: failed ? "message mine pending failed" : "message mine pending", "data-client-id": pending.clientMessageId },
    el(
      "header",
      {},
      el("span", { className: authorClass(username), text: username }),
      el("span", { className: "send-state", text: failed ? "Not sent" : "Sending…" }),
    ),
    el("p", { className: "text", text: pending.text }),
    !failed && pending.note ? el("p", { className: "send-note small", role: "status", text: pending.note }) : null,
    pending.attachments?.length
      ? el("p", { className: "pending-files small muted", text: `Attached: ${pending.attachments.map((a) => `${a.filename} (${describeFile(a)})`).join(", ")}` })
      : null,
    failed
      ? el(
          "div",
          { className: "send-failure" },
          el("span", { className: "error small", role: "alert", text: pending.error }),
          el("button", { type: "button", onClick: onRetry }, "Retry"),
          el("button", { type: "button", onClick: onDiscard }, "Discard"),
        )
      : null,
  );
}
