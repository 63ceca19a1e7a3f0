// DOM building. User content only ever goes through textContent, never innerHTML.

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

// A stable colour per user: the same name always gets the same hue.
export function colourFor(username) {
  let hash = 0;
  for (const ch of username.toLowerCase()) hash = (hash * 31 + ch.codePointAt(0)) >>> 0;
  const dark = window.matchMedia("(prefers-color-scheme: dark)").matches;
  return `hsl(${hash % 360} 65% ${dark ? 70 : 38}%)`;
}

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const dateTimeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

function authorName(username) {
  const node = el("span", { className: "author", text: username });
  node.style.color = colourFor(username); // CSSOM, not a style attribute: allowed by the CSP
  return node;
}

function isToday(date) {
  return date.toDateString() === new Date().toDateString();
}

export function messageItem(message, me) {
  const created = new Date(message.createdAt);
  const mine = message.username.toLowerCase() === me.toLowerCase();
  return el(
    "li",
    { className: mine ? "message mine" : "message", "data-id": message.messageId },
    el(
      "header",
      {},
      authorName(message.username),
      el("time", { datetime: message.createdAt, title: created.toLocaleString(), text: (isToday(created) ? timeFormat : dateTimeFormat).format(created) }),
    ),
    el("p", { className: "text", text: message.text }),
  );
}
