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
   *   onLost(): dropped, reconnecting; onClosed(everOpened): dropped for good
   *   (everOpened false: the server was never reached at all).
   */
  constructor(url, handlers) {
    this.url = url;
    this.handlers = handlers;
    this.resumeToken = null;
    this.socket = null;
    this.closing = false;
    this.lostAt = null;
    this.retryTimer = null;
    this.everOpened = false;
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
      this.everOpened = true;
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
      this.handlers.onClosed(this.everOpened);
      return;
    }
    if (this.lostAt === null) {
      this.lostAt = now;
      this.retries = 0;
      this.handlers.onLost();
    }
    if (now - this.lostAt > GIVE_UP_AFTER_MS) {
      this.handlers.onClosed(this.everOpened);
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

/**
 * Why a server at `hostname` cannot be reached from another network, or "" when
 * it can be (the desktop app and lobbyhost-guest say the same: invite_address.py).
 */
export function privateAddressNote(hostname) {
  const host = hostname.replace(/^\[|\]$/g, "").toLowerCase();
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  if (v4) {
    const [a, b] = [Number(v4[1]), Number(v4[2])];
    if (a === 169 && b === 254) {
      return `${host} is a link-local address: it only works on the host's own network`;
    }
    if (a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) ||
        (a === 100 && b >= 64 && b <= 127)) {
      return `${host} is a private address: it only works on the host's own network`;
    }
    return "";
  }
  if (/^fe[89ab][0-9a-f]:/.test(host)) {
    return `${host} is a link-local address: it only works on the host's own network`;
  }
  if (/^f[cd][0-9a-f]{2}:/.test(host)) {
    return `${host} is a private address: it only works on the host's own network`;
  }
  return "";
}
