// One WebSocket connection that stays up: a fresh ticket for every connect, reconnects with
// exponential backoff and jitter, a ping under API Gateway's 10-minute idle limit, and a
// planned reconnect before its 2-hour limit.

const PING_EVERY_MS = 5 * 60 * 1000;
const RENEW_AFTER_MS = 110 * 60 * 1000;
const BACKOFF_BASE_MS = 500;
const BACKOFF_MAX_MS = 30000;

export class ChatSocket extends EventTarget {
  constructor({ url, getTicket }) {
    super();
    this.url = url;
    this.getTicket = getTicket;
    this.ws = null;
    this.state = "offline";
    this.attempt = 0;
    this.stopped = true;
    this.timers = [];
    this.nextRequestId = 1;
    this.onOnline = () => this.reconnectSoon(0);
    this.onOffline = () => this.setState("offline");
  }

  start() {
    this.stopped = false;
    window.addEventListener("online", this.onOnline);
    window.addEventListener("offline", this.onOffline);
    this.connect();
  }

  stop() {
    this.stopped = true;
    window.removeEventListener("online", this.onOnline);
    window.removeEventListener("offline", this.onOffline);
    this.clearTimers();
    if (this.ws) {
      this.ws.onclose = null;
      this.ws.close(1000);
      this.ws = null;
    }
    this.setState("offline");
  }

  setState(state) {
    if (state === this.state) return;
    this.state = state;
    this.dispatchEvent(new CustomEvent("state", { detail: state }));
  }

  clearTimers() {
    this.timers.forEach((t) => clearTimeout(t) || clearInterval(t));
    this.timers = [];
  }

  async connect() {
    if (this.stopped) return;
    this.clearTimers();
    this.setState(this.attempt === 0 && this.state === "offline" ? "connecting" : "reconnecting");
    let ticket;
    try {
      ticket = await this.getTicket();
    } catch (error) {
      if (error.status === 401) {
        this.dispatchEvent(new CustomEvent("unauthorized", { detail: error.message }));
        return;
      }
      this.reconnectSoon();
      return;
    }
    if (this.stopped) return;
    // batch=1: this client takes `messageBatch` frames (actions.js unwraps them).
    const ws = new WebSocket(`${this.url}?ticket=${encodeURIComponent(ticket)}&batch=1`);
    this.ws = ws;
    ws.onopen = () => {
      this.attempt = 0;
      this.setState("connected");
      this.timers.push(setInterval(() => this.send({ action: "ping" }), PING_EVERY_MS));
      this.timers.push(setTimeout(() => this.renew(), RENEW_AFTER_MS));
      this.dispatchEvent(new CustomEvent("open"));
    };
    ws.onmessage = (event) => {
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        console.warn("ignored a frame that is not JSON");
        return;
      }
      this.dispatchEvent(new CustomEvent("frame", { detail: frame }));
    };
    ws.onclose = () => {
      if (this.ws === ws) this.ws = null;
      this.reconnectSoon();
    };
  }

  // Before API Gateway's 2-hour limit: reconnect on our terms; catch-up fills any gap.
  renew() {
    if (this.ws) this.ws.close(1000);
  }

  reconnectSoon(delayMs) {
    if (this.stopped) return;
    this.clearTimers();
    if (!navigator.onLine) {
      this.setState("offline");
      return;
    }
    this.setState("reconnecting");
    const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** this.attempt);
    const wait = delayMs ?? ceiling / 2 + Math.random() * (ceiling / 2);
    this.attempt += 1;
    this.timers.push(setTimeout(() => this.connect(), wait));
  }

  isOpen() {
    return Boolean(this.ws && this.ws.readyState === WebSocket.OPEN);
  }

  // Sends a frame; returns its requestId, or null when not connected.
  send(frame) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return null;
    const requestId = frame.requestId || `r${this.nextRequestId++}`;
    this.ws.send(JSON.stringify({ ...frame, requestId }));
    return requestId;
  }

  // A test and debugging hook: drop the connection as a network failure would.
  drop() {
    if (this.ws) this.ws.close(4000, "dropped");
  }
}
