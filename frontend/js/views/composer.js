// The message box: Enter sends, Shift+Enter adds a line; a sent message shows at once as pending.
// Files (Attach, drag and drop onto the conversation, paste) are checked against the limits,
// upload at once with a progress bar, and go with the message when they have all finished.

import { formatSize, isImage, fileProblem, mediaLimits } from "../media.js";
import { $, describe, el } from "../render.js";

const MAX_HEIGHT_PX = 160;

export function mountComposer({ store, actions, config = {} }) {
  const input = $("message-input");
  const chipList = $("attachment-chips");
  const limits = mediaLimits(config);
  let chips = []; // {file, status: "uploading" | "done" | "failed", progress, uploadId, error, controller, preview, node, state}

  const showError = (text) => ($("composer-error").textContent = text);

  function autosize() {
    input.style.height = "auto";
    input.style.height = `${Math.min(input.scrollHeight, MAX_HEIGHT_PX)}px`;
  }

  function stateNode(chip) {
    const { file } = chip;
    if (chip.status === "failed") return el("span", { className: "error small", text: chip.error });
    if (chip.status === "done") return el("span", { className: "small ok", text: "Ready" });
    const bar = el("span", { className: "bar" });
    bar.style.width = `${Math.round(chip.progress * 100)}%`;
    return el("span", { className: "progress", role: "progressbar", "aria-label": `Uploading ${file.name}`, "aria-valuemin": "0", "aria-valuemax": "100", "aria-valuenow": String(Math.round(chip.progress * 100)) }, bar);
  }

  function chipNode(chip) {
    const { file } = chip;
    const preview = chip.preview
      ? el("img", { className: "chip-thumb", src: chip.preview, alt: "", width: "48", height: "48" })
      : el("span", { className: "chip-icon", "aria-hidden": "true", text: (file.name.split(".").pop() || "file").slice(0, 4).toUpperCase() });
    chip.state = stateNode(chip);
    return el(
      "li",
      { className: `chip ${chip.status}` },
      preview,
      el("span", { className: "chip-text" }, el("span", { className: "file-name", text: file.name }), el("span", { className: "small muted", text: `${file.type}, ${formatSize(file.size)}` }), chip.state),
      el("button", { type: "button", className: "icon", "aria-label": `Remove ${file.name}`, title: `Remove ${file.name}`, onClick: () => removeChip(chip) }, "✕"),
    );
  }

  // A chip's element lives as long as the chip: only its state line is swapped, so a click on
  // Remove just as the upload finishes lands on the same button (a replaced node loses it).
  function redraw(chip) {
    if (chip.node) {
      chip.node.className = `chip ${chip.status}`;
      const state = stateNode(chip);
      chip.state.replaceWith(state);
      chip.state = state;
    } else {
      chip.node = chipNode(chip);
      chipList.append(chip.node);
    }
    chipList.hidden = chips.length === 0;
  }

  function removeChip(chip) {
    chip.controller.abort();
    if (chip.preview) URL.revokeObjectURL(chip.preview);
    chip.node?.remove();
    chips = chips.filter((c) => c !== chip);
    chipList.hidden = chips.length === 0;
    input.focus();
  }

  function clearChips() {
    for (const chip of [...chips]) removeChip(chip);
  }

  async function upload(roomId, chip) {
    try {
      chip.uploadId = await actions.media.upload(roomId, chip.file, {
        signal: chip.controller.signal,
        onProgress: (fraction) => {
          chip.progress = fraction;
          const bar = chip.node?.querySelector("[role=progressbar]");
          if (!bar) return;
          bar.setAttribute("aria-valuenow", String(Math.round(fraction * 100)));
          bar.firstChild.style.width = `${Math.round(fraction * 100)}%`;
        },
      });
      chip.status = "done";
    } catch (error) {
      if (chip.controller.signal.aborted) return;
      chip.status = "failed";
      chip.error = `Not uploaded: ${describe(error)}`;
    }
    if (chips.includes(chip)) redraw(chip);
  }

  // Checks every file before anything is uploaded; the ones that pass start uploading at once.
  function addFiles(fileList) {
    const roomId = store.state.currentRoomId;
    if (!roomId) return;
    const problems = [];
    for (const file of fileList) {
      const problem = fileProblem(file, limits);
      if (problem) problems.push(problem);
      else if (chips.length >= limits.maxFiles) problems.push(`${file.name} was not added: a message can carry at most ${limits.maxFiles} files.`);
      else {
        const chip = { file, status: "uploading", progress: 0, uploadId: null, error: "", controller: new AbortController(), node: null };
        chip.preview = isImage(file.type) ? URL.createObjectURL(file) : null;
        chips.push(chip);
        redraw(chip);
        upload(roomId, chip);
      }
    }
    showError(problems.join(" "));
  }

  function send() {
    const text = input.value;
    const roomId = store.state.currentRoomId;
    showError("");
    if ((!text.trim() && chips.length === 0) || !roomId) return;
    if (chips.some((c) => c.status === "uploading")) return showError("Wait until the files have finished uploading.");
    if (chips.some((c) => c.status === "failed")) return showError("Remove the files that did not upload, then send.");
    const attachments = chips.map((c) => ({ uploadId: c.uploadId, filename: c.file.name, contentType: c.file.type, size: c.file.size }));
    try {
      actions.sendMessage(roomId, text, undefined, attachments);
    } catch (error) {
      showError(describe(error));
      return;
    }
    input.value = "";
    clearChips();
    autosize();
  }

  $("composer").addEventListener("submit", (e) => {
    e.preventDefault();
    send();
  });
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      send();
    }
  });
  input.addEventListener("input", autosize);

  const picker = $("file-input");
  $("attach-button").title = `Attach files: images, PDF, text or ZIP; up to ${limits.maxFiles}, ${formatSize(limits.maxBytes)} each`;
  $("attach-button").addEventListener("click", () => picker.click());
  picker.addEventListener("change", () => {
    addFiles([...picker.files]);
    picker.value = ""; // the same file may be chosen again
  });
  input.addEventListener("paste", (e) => {
    const files = [...(e.clipboardData?.files || [])];
    if (files.length === 0) return;
    e.preventDefault();
    addFiles(files);
  });
  const dropZone = $("messages").closest(".conversation");
  const carriesFiles = (e) => [...(e.dataTransfer?.types || [])].includes("Files");
  dropZone.addEventListener("dragover", (e) => {
    if (!carriesFiles(e)) return;
    e.preventDefault();
    dropZone.classList.add("dropping");
  });
  dropZone.addEventListener("dragleave", (e) => {
    if (!dropZone.contains(e.relatedTarget)) dropZone.classList.remove("dropping");
  });
  dropZone.addEventListener("drop", (e) => {
    dropZone.classList.remove("dropping");
    if (!carriesFiles(e)) return;
    e.preventDefault();
    addFiles([...e.dataTransfer.files]);
  });

  store.subscribe("current", (roomId) => {
    showError("");
    clearChips(); // an upload belongs to its room
    if (roomId) input.focus();
  });
}
