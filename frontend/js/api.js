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
      throw new ApiError(response.status, error.code || "internal", error.message || "Something went wrong. Please try again.");
    }
    return data;
  }

  signup(username, password) { return this.request("POST", "/auth/signup", { username, password }); }
  login(username, password) { return this.request("POST", "/auth/login", { username, password }); }
  me() { return this.request("GET", "/me"); }
  ticket() { return this.request("POST", "/auth/ticket"); }
  rooms() { return this.request("GET", "/rooms"); }
  openDirect(username) { return this.request("POST", "/rooms/direct", { username }); }
  members(roomId) { return this.request("GET", `/rooms/${encodeURIComponent(roomId)}/members`); }
  search(roomId, params) {
    const query = new URLSearchParams(params).toString();
    return this.request("GET", `/rooms/${encodeURIComponent(roomId)}/search?${query}`);
  }
  messages(roomId, params = {}) {
    const query = new URLSearchParams(params).toString();
    return this.request("GET", `/rooms/${encodeURIComponent(roomId)}/messages${query ? `?${query}` : ""}`);
  }
}
