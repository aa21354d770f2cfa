// The websocket to the signalling server (protocol v1): one JSON object per
// frame. After a drop it reconnects with backoff and resumes with the guest
// token, as long as it holds one; without a token there is nothing to resume.

const FIRST_RETRY_MS = 250;
const MAX_RETRY_MS = 4000;
// The server keeps a guest's place for 30 s (guest_grace).
const GIVE_UP_AFTER_MS = 30000;

export class Signalling {
  /**
   * @param {string} url  ws:// or wss:// address of the server
   * @param {{onEvent: Function, onOpen: Function, onLost: Function, onClosed: Function}} handlers
   *   onEvent(name, content): every server event;
   *   onOpen(resuming): the socket is open (resuming: after a drop, resume sent);
   *   onLost(): dropped, reconnecting; onClosed(): dropped for good.
   */
  constructor(url, handlers) {
    this.url = url;
    this.handlers = handlers;
    this.resumeToken = null;
    this.socket = null;
    this.closing = false;
    this.lostAt = null;
    this.retryTimer = null;
  }

  connect() {
    this.open(false);
  }

  send(action, content = {}) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) {
      this.socket.send(JSON.stringify({ action, content }));
      return true;
    }
    return false;
  }

  /** Close on purpose: no reconnecting. */
  close() {
    this.closing = true;
    clearTimeout(this.retryTimer);
    if (this.socket) this.socket.close(1000, "bye");
  }

  open(resuming) {
    const socket = new WebSocket(this.url);
    this.socket = socket;
    socket.addEventListener("open", () => {
      this.lostAt = null;
      if (resuming) this.send("resume", { token: this.resumeToken });
      this.handlers.onOpen(resuming);
    });
    socket.addEventListener("message", (message) => {
      let frame;
      try {
        frame = JSON.parse(message.data);
      } catch {
        return;
      }
      if (frame && typeof frame.event === "string") {
        this.handlers.onEvent(frame.event, frame.content || {});
      }
    });
    socket.addEventListener("close", () => {
      if (socket !== this.socket || this.closing) return;
      this.dropped();
    });
  }

  dropped() {
    const now = Date.now();
    if (!this.resumeToken) {
      this.handlers.onClosed();
      return;
    }
    if (this.lostAt === null) {
      this.lostAt = now;
      this.retries = 0;
      this.handlers.onLost();
    }
    if (now - this.lostAt > GIVE_UP_AFTER_MS) {
      this.handlers.onClosed();
      return;
    }
    const delay = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** this.retries);
    this.retries += 1;
    this.retryTimer = setTimeout(() => this.open(true), delay);
  }
}

/** The server's websocket address: the page's own origin, path /. */
export function serverUrl(location) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/`;
}
