// The REST API: accounts, tickets and reads. Errors carry the server's code and message.

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export class Api {
  constructor(baseUrl) {
    this.baseUrl = baseUrl.replace(/\/+$/, "");
    this.token = null;
    this.onUnauthorized = null; // (message) => ..., for a 401 to a call that sent our token
  }

  async request(method, path, body) {
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (this.token) headers.Authorization = `Bearer ${this.token}`;
    let response;
    try {
      response = await fetch(this.baseUrl + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch {
      throw new ApiError(0, "network", "Can't reach the server. Check your connection and try again.");
    }
    const text = await response.text();
    let data = {};
    try {
      data = text ? JSON.parse(text) : {};
    } catch {
      data = {};
    }
    if (!response.ok) {
      const error = data.error || {};
      const failure = new ApiError(response.status, error.code || "internal", error.message || "Something went wrong. Please try again.");
      if (response.status === 401 && headers.Authorization && this.onUnauthorized) this.onUnauthorized(failure.message);
      throw failure;
    }
    return data;
  }

  signup(username, password) { return this.request("POST", "/auth/signup", { username, password }); }
  login(username, password) { return this.request("POST", "/auth/login", { username, password }); }
  logout() { return this.request("POST", "/auth/logout"); }
  logoutAll() { return this.request("POST", "/auth/logout-all"); }
  me() { return this.request("GET", "/me"); }
  ticket() { return this.request("POST", "/auth/ticket"); }
  rooms() { return this.request("GET", "/rooms"); }
  openDirect(username) { return this.request("POST", "/rooms/direct", { username }); }
  members(roomId) { return this.request("GET", `/rooms/${encodeURIComponent(roomId)}/members`); }
  search(roomId, params) {
    const query = new URLSearchParams(params).toString();
    return this.request("GET", `/rooms/${encodeURIComponent(roomId)}/search?${query}`);
  }
  createUpload(roomId, file) {
    return this.request("POST", `/rooms/${encodeURIComponent(roomId)}/uploads`, file);
  }

  // The presigned POST form to S3, the file last; progress as a fraction 0..1; an aborted
  // signal cancels it.
  postForm(url, fields, file, onProgress, signal) {
    return new Promise((resolve, reject) => {
      const form = new FormData();
      for (const [name, value] of Object.entries(fields)) form.append(name, value);
      form.append("file", file);
      const xhr = new XMLHttpRequest();
      xhr.open("POST", url);
      xhr.upload.addEventListener("progress", (e) => {
        if (e.lengthComputable) onProgress(e.loaded / e.total);
      });
      xhr.addEventListener("load", () => {
        if (xhr.status >= 200 && xhr.status < 300) resolve();
        else reject(new ApiError(xhr.status, "upload_failed", "The file was not accepted by the storage. Please try again."));
      });
      xhr.addEventListener("error", () => reject(new ApiError(0, "network", "The upload failed. Check your connection and try again.")));
      xhr.addEventListener("abort", () => reject(new ApiError(0, "aborted", "The upload was cancelled.")));
      if (signal) signal.addEventListener("abort", () => xhr.abort());
      xhr.send(form);
    });
  }

  // An attachment's bytes: the API answers 302 to a presigned GET, which fetch follows.
  async download(roomId, uploadId) {
    let response;
    try {
      response = await fetch(`${this.baseUrl}/rooms/${encodeURIComponent(roomId)}/uploads/${encodeURIComponent(uploadId)}`, {
        headers: { Authorization: `Bearer ${this.token}` },
      });
    } catch {
      throw new ApiError(0, "network", "Can't reach the server. Check your connection and try again.");
    }
    if (!response.ok) throw new ApiError(response.status, "download_failed", "The file could not be downloaded.");
    return response.blob();
  }

  messages(roomId, params = {}) {
    const query = new URLSearchParams(params).toString();
    return this.request("GET", `/rooms/${encodeURIComponent(roomId)}/messages${query ? `?${query}` : ""}`);
  }
}
