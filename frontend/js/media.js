// Attachments: the limits checked before any upload, uploads (a presigned POST per file) and
// downloads (fetched with the bearer token, shown as blob URLs). docs/frontend.md, "Media".

// The server's documented defaults (docs/protocol.md, "Media"); a config.js may carry the
// deployment's own as `media: {maxBytes, contentTypes}`.
export const MEDIA_DEFAULTS = Object.freeze({
  maxFiles: 4,
  maxBytes: 10 * 1024 * 1024,
  contentTypes: ["image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf", "text/plain", "application/zip"],
});
const IMAGE_TYPES = new Set(["image/png", "image/jpeg", "image/gif", "image/webp"]);

export const isImage = (contentType) => IMAGE_TYPES.has(contentType);

export function mediaLimits(config = {}) {
  const media = config.media || {};
  return {
    maxFiles: MEDIA_DEFAULTS.maxFiles,
    maxBytes: Number.isInteger(media.maxBytes) && media.maxBytes > 0 ? media.maxBytes : MEDIA_DEFAULTS.maxBytes,
    contentTypes: Array.isArray(media.contentTypes) && media.contentTypes.length ? media.contentTypes : MEDIA_DEFAULTS.contentTypes,
  };
}

export function formatSize(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

// Why this file cannot be attached, or "" when it can.
export function fileProblem(file, limits) {
  if (file.size < 1) return `${file.name} is empty.`;
  if (!limits.contentTypes.includes(file.type)) {
    return `${file.name}: this type of file can't be attached (${file.type || "unknown type"}). Allowed: PNG, JPEG, GIF and WebP images, PDF, plain text and ZIP.`;
  }
  if (file.size > limits.maxBytes) {
    // Just over the limit both round alike: then in bytes.
    const [size, max] = formatSize(file.size) === formatSize(limits.maxBytes) ? [`${file.size} bytes`, `${limits.maxBytes} bytes`] : [formatSize(file.size), formatSize(limits.maxBytes)];
    return `${file.name} is too large (${size}); files can be at most ${max}.`;
  }
  return "";
}

export function createMedia(api) {
  const blobs = new Map(); // uploadId => Promise of a blob URL, fetched once a session

  return {
    // Asks for a form, then posts the file to it; resolves with the uploadId once stored.
    async upload(roomId, file, { onProgress = () => {}, signal } = {}) {
      const form = await api.createUpload(roomId, { filename: file.name, contentType: file.type, size: file.size });
      if (signal && signal.aborted) throw new Error("cancelled");
      await api.postForm(form.url, form.fields, file, onProgress, signal);
      return form.uploadId;
    },
    blobUrl(roomId, uploadId) {
      if (!blobs.has(uploadId)) {
        const pending = api.download(roomId, uploadId).then((blob) => URL.createObjectURL(blob));
        pending.catch(() => blobs.delete(uploadId)); // a failed fetch is tried again next time
        blobs.set(uploadId, pending);
      }
      return blobs.get(uploadId);
    },
    forget() {
      for (const pending of blobs.values()) pending.then((url) => URL.revokeObjectURL(url), () => {});
      blobs.clear();
    },
  };
}
