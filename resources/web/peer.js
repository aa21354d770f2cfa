// The WebRTC link to the host, guest side. The host is the offerer and opens
// the "lobby" and "game" channels; this side answers, trickles its own
// candidates and speaks the lobby channel's JSON messages (README, "Data
// channels"): ping/pong for RTT, chat (the host names who said each line, itself
// or another guest), the host's member list, and bye before a deliberate close.

const LOBBY = "lobby";
const GAME = "game";
const PING_INTERVAL_MS = 2000;
export const MAX_CHAT_LENGTH = 2000;
export const HOST_PEER_ID = 1;
const MAX_MEMBERS = 256;
const MAX_NAME_LENGTH = 64;

export class GuestPeer {
  /**
   * @param {object[]} iceServers  exactly what the server handed out
   * @param {object} handlers  signal(action, content), answered(), open(), chat(text, sender),
   *   members(list), rtt(ms), bye(reason), closed(), failed(), interrupted(yes): the path
   *   to the host stopped answering (yes) or came back (no). sender and each member are
   *   {name, peerId, host}; sender is null when the host did not name one.
   * @param {RTCPeerConnection|null} prepared  a peer connection made ahead, or null
   */
  constructor(iceServers, handlers, prepared = null) {
    this.handlers = handlers;
    this.hostId = null;
    this.lobby = null;
    this.game = null;
    this.pinger = null;
    this.done = false;
    // Signalling steps run one after the other, in the order they came.
    this.steps = Promise.resolve();
    this.remoteSet = false;
    this.earlyCandidates = [];
    const pc = prepared ? withIceServers(prepared, iceServers) : new RTCPeerConnection({ iceServers });
    this.pc = pc;
    pc.addEventListener("datachannel", (event) => this.attach(event.channel));
    pc.addEventListener("icecandidate", (event) => {
      if (event.candidate && !event.candidate.candidate) return; // end-of-generation marker
      const candidate = event.candidate ? event.candidate.toJSON() : null;
      this.handlers.signal("send_ice_candidate", { connection_id: this.hostId, candidate });
    });
    pc.addEventListener("connectionstatechange", () => {
      const state = pc.connectionState;
      if (state === "failed") this.finish("failed");
      else if (!this.done && (state === "disconnected" || state === "connected")) {
        this.handlers.interrupted(state === "disconnected");
      }
    });
  }

  /** The host's offer: apply it, answer, then take the candidates that came early. */
  applyOffer(description) {
    this.then(async () => {
      await this.pc.setRemoteDescription(description);
      await this.pc.setLocalDescription(await this.pc.createAnswer());
      const answer = this.pc.localDescription;
      this.handlers.signal("set_session_description", {
        connection_id: this.hostId,
        description: { type: answer.type, sdp: answer.sdp },
      });
      this.handlers.answered();
      // After the answer is on its way: the host's checks start when it has the answer.
      this.remoteSet = true;
      for (const candidate of this.earlyCandidates) await this.addCandidateNow(candidate);
      this.earlyCandidates = [];
    });
  }

  /** A trickled candidate of the host; null is the end of its candidates. */
  addCandidate(candidate) {
    this.then(async () => {
      if (this.remoteSet) await this.addCandidateNow(candidate);
      else this.earlyCandidates.push(candidate);
    });
  }

  async addCandidateNow(candidate) {
    try {
      await this.pc.addIceCandidate(candidate && candidate.candidate ? candidate : undefined);
    } catch (error) {
      console.info("ignoring a candidate of the host:", error);
    }
  }

  sendChat(text) {
    return this.sendLobby({ type: "chat", text: text.slice(0, MAX_CHAT_LENGTH) });
  }

  /** Close; with a reason, first tell the host why. */
  close(reason) {
    if (reason) this.sendLobby({ type: "bye", reason });
    this.done = true;
    clearInterval(this.pinger);
    this.pc.close();
  }

  get isOpen() {
    return Boolean(this.lobby && this.lobby.readyState === "open");
  }

  // Internals ---------------------------------------------------------------

  then(step) {
    this.steps = this.steps.then(step).catch((error) => {
      console.warn("WebRTC step failed:", error);
      this.finish("failed");
    });
  }

  attach(channel) {
    if (channel.label === LOBBY) {
      this.lobby = channel;
      channel.addEventListener("open", () => this.opened());
      channel.addEventListener("message", (event) => this.received(event.data));
      channel.addEventListener("close", () => this.finish("closed"));
      if (channel.readyState === "open") this.opened();
    } else if (channel.label === GAME) {
      this.game = channel; // the game's own data: nothing for this page to show
    }
  }

  opened() {
    if (this.pinger !== null) return;
    this.ping();
    this.pinger = setInterval(() => this.ping(), PING_INTERVAL_MS);
    this.handlers.open();
  }

  ping() {
    this.sendLobby({ type: "ping", t: performance.now() });
  }

  sendLobby(message) {
    if (!this.isOpen) return false;
    this.lobby.send(JSON.stringify(message));
    return true;
  }

  received(data) {
    let message;
    try {
      message = JSON.parse(data);
    } catch {
      return;
    }
    if (!message || typeof message !== "object") return;
    if (message.type === "ping") {
      this.sendLobby({ type: "pong", t: message.t });
    } else if (message.type === "pong" && typeof message.t === "number") {
      this.handlers.rtt(Math.max(0, performance.now() - message.t));
    } else if (message.type === "chat" && typeof message.text === "string" && message.text.trim()) {
      const sender = member(message.from, message.peer_id, message.host);
      this.handlers.chat(message.text.slice(0, MAX_CHAT_LENGTH), sender);
    } else if (message.type === "members" && Array.isArray(message.members)) {
      const members = message.members
        .slice(0, MAX_MEMBERS)
        .map((entry) => entry && typeof entry === "object" && member(entry.name, entry.peer_id, entry.host))
        .filter(Boolean);
      this.handlers.members(members);
    } else if (message.type === "bye") {
      const reason = typeof message.reason === "string" ? message.reason : "left";
      if (!this.done) {
        this.done = true;
        clearInterval(this.pinger);
        this.handlers.bye(reason);
      }
    }
  }

  finish(how) {
    if (this.done) return;
    this.done = true;
    clearInterval(this.pinger);
    if (how === "failed") this.handlers.failed();
    else this.handlers.closed();
  }
}

/**
 * A peer connection made ahead (at Join, while the server and host answer: making
 * one takes the browser several milliseconds), given the ICE servers handed out
 * on acceptance; a new one if it cannot take them.
 */
export function preparePeerConnection() {
  try {
    return new RTCPeerConnection({ iceServers: [] });
  } catch {
    return null; // made again when needed, where a failure is reported
  }
}

function withIceServers(pc, iceServers) {
  try {
    pc.setConfiguration({ iceServers });
    return pc;
  } catch (error) {
    console.info("making a new peer connection:", error);
    pc.close();
    return new RTCPeerConnection({ iceServers });
  }
}

/** A member from what the host sent, or null when it is not one. */
function member(name, peerId, host) {
  if (typeof name !== "string" || !name.trim() || !Number.isInteger(peerId) || peerId < 1) return null;
  const isHost = host === true || (host === undefined && peerId === HOST_PEER_ID);
  return { name: name.trim().slice(0, MAX_NAME_LENGTH), peerId, host: isHost };
}
