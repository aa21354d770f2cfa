// The browser guest page: join a lobby by code, then chat with the lobby over
// the WebRTC "lobby" channel. Everything shown that came from someone else
// (names, chat, reasons) goes in with textContent, never as HTML, and is never
// used to look something up in a plain object (a reason "constructor" would
// find Object's own): lookups go through Map or Object.hasOwn.

import { codeFromPath, normaliseCode } from "./code.js";
import { GuestPeer, preparePeerConnection } from "./peer.js";
import { Signalling, privateAddressNote, serverUrl } from "./signalling.js";

const $ = (id) => document.getElementById(id);
const ui = {
  status: $("status"),
  joinForm: $("join-form"),
  code: $("code"),
  name: $("name"),
  password: $("password"),
  join: $("join"),
  cancel: $("cancel"),
  lobby: $("lobby"),
  lobbyCode: $("lobby-code"),
  who: $("who"),
  membersHeading: $("members-heading"),
  members: $("members"),
  rtt: $("rtt"),
  chatLog: $("chat-log"),
  chatForm: $("chat-form"),
  message: $("message"),
  send: $("send"),
  leave: $("leave"),
};

// Why a visit ended, from the server's reason codes. What the host typed
// arrives apart, in `message`, and is only ever shown as text: never read as a code.
const REJECT_WORDS = new Map([
  ["rejected_by_host", "the host said no"],
  ["timeout", "the host did not answer in time"],
]);

// Why a WebRTC handshake usually fails and what helps; the desktop app and
// lobbyhost-guest say the same (lobbyhost_app/session_values.py UNREACHABLE_HINT).
const UNREACHABLE_HINT =
  "no network route between you and the host worked; a router or firewall (NAT) " +
  "on either side is probably blocking it. The host can add a TURN server in " +
  "Settings (or host on a public server); or try from another network.";

/** Why the signalling server could not be reached at all, with why a private address can't work. */
function unreachableServer(hostname) {
  const note = privateAddressNote(hostname);
  const said = `Could not reach the signalling server at ${hostname}`;
  return note ? `${said}: ${note}.` : `${said}.`;
}

/** The host's own words from an event, or "" when it gave none. */
function hostWords(content) {
  return typeof content.message === "string" ? content.message.trim() : "";
}

/** One attempt to join: from the Join button to an end (rejected, left, ...). */
class Visit {
  constructor(code, name, password) {
    this.code = code;
    this.name = name;
    this.password = password;
    this.hostId = null;
    this.peerId = null;
    this.hostName = "Host";
    this.peer = null;
    // The first link's peer connection, made ahead; taken on acceptance.
    this.preparedPc = null;
    this.iceServers = [];
    // A migratable lobby outlives its host: a new host is followed, never an end.
    this.migratable = false;
    this.hostAway = false;
    this.ended = false;
    this.signalling = this.makeSignalling(serverUrl(window.location));
  }

  makeSignalling(url) {
    const signalling = new Signalling(url, {
      onEvent: (event, content) => signalling === this.signalling && this.onEvent(event, content),
      onOpen: (resuming) => this.onOpen(resuming),
      onLost: () => this.onLost(),
      onClosed: (everOpened) => {
        if (everOpened) this.end("Connection failed: lost the connection to the server", "error");
        else this.end(unreachableServer(window.location.hostname), "error");
      },
    });
    return signalling;
  }

  start() {
    setStatus("Contacting the lobby…", "busy");
    this.preparedPc = takeSparePeerConnection();
    this.signalling.connect();
  }

  onOpen(resuming) {
    if (!resuming) {
      const join = { lobby_id: this.code, name: this.name };
      if (this.password) join.password = this.password;
      this.signalling.send("join_lobby", join);
      // Made while the host decides: on acceptance the offer can be answered at once.
      if (!this.preparedPc && !this.peer) this.preparedPc = preparePeerConnection();
    }
  }

  onLost() {
    if (this.peer && this.peer.isOpen) {
      setStatus("Connected (reconnecting to the server…)", "ok");
    } else {
      setStatus("Reconnecting to the server…", "busy");
    }
  }

  onEvent(event, content) {
    if (this.ended) return;
    const handlers = this.handlers;
    if (Object.hasOwn(handlers, event)) handlers[event].call(this, content);
  }

  get handlers() {
    return {
      join_requested(content) {
        const lobby = typeof content.name === "string" && content.name ? ` of “${content.name}”` : "";
        setStatus(`Waiting for the host${lobby} to let you in`, "busy");
      },
      request_accepted(content) {
        this.hostId = content.host_connection_id;
        this.peerId = Number.isInteger(content.peer_id) ? content.peer_id : null;
        this.signalling.resumeToken = content.guest_token;
        this.iceServers = content.ice_servers || [];
        this.migratable = content.migratable === true;
        this.connectToHost();
        // The lobby view comes once the answer is on its way: switching views costs the
        // browser a layout that would otherwise sit between the host's offer and the answer.
        setStatus("Connecting", "busy");
        this.signalling.send("get_lobby_info");
      },
      host_migrated(content) {
        if (!this.peer || content.host_connection_id === this.hostId) return;
        if (typeof content.name === "string" && content.name) this.hostName = content.name;
        this.followHost(content.host_connection_id);
        addNote(`The host left; ${this.hostName} hosts the lobby now`);
      },
      lobby_info(content) {
        const host = content.host;
        if (host && typeof host.name === "string" && host.name) this.hostName = host.name;
      },
      received_session_description(content) {
        const description = content.description || {};
        if (this.peer && content.connection_id === this.hostId && description.type === "offer") {
          this.peer.applyOffer({ type: "offer", sdp: String(description.sdp || "") });
        }
      },
      received_ice_candidate(content) {
        if (this.peer && content.connection_id === this.hostId) {
          this.peer.addCandidate(content.candidate || null);
        }
      },
      request_rejected(content) {
        const said = hostWords(content);
        const words = REJECT_WORDS.get(content.reason) || REJECT_WORDS.get("rejected_by_host");
        if (content.reason === "host_left") this.end("Host left", "warn");
        else this.end(`Rejected: ${said || words}`, "error");
      },
      lobby_closed(content) {
        if (content.reason === "host_left") this.end("Host left", "warn");
        else this.end("Lobby closed", "warn");
      },
      kicked(content) {
        if (content.reason === "unreachable") {
          this.end(`The host could not reach you: ${UNREACHABLE_HINT}`, "error");
          return;
        }
        const said = hostWords(content);
        this.end(said ? `Kicked: ${said}` : "Kicked: the host removed you from the lobby", "error");
      },
      host_disconnected(content) {
        this.hostAway = true;
        const seconds = Math.round(Number(content.grace_s) || 0);
        setStatus(`Host disconnected: waiting up to ${seconds} s for it to come back`, "warn");
      },
      host_resumed(content) {
        this.hostAway = false;
        this.hostId = content.connection_id;
        if (this.peer) this.peer.hostId = this.hostId;
        this.showLinkState();
      },
      resumed(content) {
        const host = content.host_connection_id;
        // The host changed while this page was away from the server (or the lobby
        // moved to another server): follow it.
        if (typeof host === "string" && host !== this.hostId) this.followHost(host);
        else this.showLinkState();
      },
      lobby_moved(content) {
        if (!this.peer || typeof content.url !== "string" || typeof content.token !== "string") {
          return;
        }
        // The host's server is going away: take the seat kept on the new one.
        this.hostAway = true;
        const old = this.signalling;
        this.signalling = this.makeSignalling(content.url);
        this.signalling.resumeToken = content.token;
        this.signalling.open(true);
        old.close();
        this.waitForNewHost();
      },
      error(content) {
        if (content.code === "lobby_not_found") {
          this.end("Lobby not found: check the code", "error");
        } else if (content.code === "wrong_password") {
          this.end(
            this.password
              ? "Wrong password: check it with the host and try again"
              : "Password needed: this lobby has one; ask the host for it",
            "error",
          );
          ui.password.setAttribute("aria-invalid", "true");
          ui.password.focus();
        } else if (content.code === "invalid_token") {
          this.end("Connection failed: the lobby no longer knows this guest", "error");
        } else if (content.action === "join_lobby") {
          this.end(`Could not join: ${content.message || content.code}`, "error");
        } else {
          console.info("server error:", content.code, content.message);
        }
      },
    };
  }

  /** A peer link that waits for the host's offer; its events count only while it is current. */
  connectToHost() {
    const prepared = this.preparedPc;
    this.preparedPc = null;
    const peer = new GuestPeer(this.iceServers, {
      signal: (action, body) => this.signalling.send(action, body),
      answered: () => current() && showLobby(this.code, this.name),
      open: () => current() && this.onPeerOpen(),
      chat: (text, sender) => {
        if (sender && !sender.host) addChat(sender.name, text, "member");
        else addChat(sender ? sender.name : this.hostName, text, "host");
      },
      members: (members) => current() && showMembers(members, this.peerId),
      rtt: (ms) => {
        if (current()) ui.rtt.textContent = `${ms < 10 ? ms.toFixed(1) : Math.round(ms)} ms`;
      },
      bye: (reason) => current() && this.onBye(reason),
      interrupted: (yes) => {
        if (!current()) return;
        if (yes) setStatus("Connection to the host interrupted: trying to get it back", "warn");
        else this.showLinkState();
      },
      closed: () => current() && this.onPeerLost("Host left: the connection to the host closed", "warn"),
      failed: () =>
        current() &&
        this.onPeerLost(`Connection failed: could not reach the host: ${UNREACHABLE_HINT}`, "error"),
    }, prepared);
    const current = () => this.peer === peer && !this.ended;
    peer.hostId = this.hostId;
    this.peer = peer;
  }

  /** The lobby has a new host: drop the link to the old one, wait for the new one's offer. */
  followHost(hostId) {
    const old = this.peer;
    this.hostId = hostId;
    this.hostAway = false;
    this.connectToHost();
    if (old) old.close();
    ui.rtt.textContent = "–";
    setStatus(`Connecting to the new host, ${this.hostName}`, "busy");
  }

  /** The link to the host ended; in a migratable lobby whose host is leaving, a new one comes. */
  onPeerLost(words, tone) {
    if (this.migratable && this.hostAway) this.waitForNewHost();
    else this.end(words, tone);
  }

  waitForNewHost() {
    setStatus("The host left: waiting for a guest to take over", "warn");
  }

  onPeerOpen() {
    showLobby(this.code, this.name);
    this.showLinkState();
    ui.message.disabled = false;
    ui.send.disabled = false;
    ui.message.focus();
  }

  showLinkState() {
    if (this.peer && this.peer.isOpen) setStatus("Connected", "ok");
    else setStatus("Connecting", "busy");
  }

  onBye(reason) {
    if (reason === "handed_over" && this.migratable) this.waitForNewHost();
    else if (reason === "kicked") this.end("Kicked: the host removed you from the lobby", "error");
    else if (reason === "closed") this.end("Lobby closed", "warn");
    else this.end("Host left", "warn");
  }

  sendChat(text) {
    if (this.peer && this.peer.sendChat(text)) addChat("You", text, "self");
  }

  /** Stop waiting for the host: withdraw the request and go back to the form. */
  cancel() {
    if (this.ended) return;
    if (this.peer) {
      this.leave(); // accepted already (the lobby view is on its way): leaving is the way back
      return;
    }
    this.signalling.send("cancel_join");
    this.end("You withdrew your request to join", "idle");
  }

  leave() {
    if (this.ended) return;
    this.signalling.send(this.peer ? "leave_lobby" : "cancel_join");
    this.end("You left the lobby", "idle", "left");
  }

  /** The visit is over: say why, let go of everything, offer to join again. */
  end(words, tone, bye) {
    if (this.ended) return;
    this.ended = true;
    setStatus(words, tone);
    if (this.peer) this.peer.close(bye);
    if (this.preparedPc) this.preparedPc.close();
    this.preparedPc = null;
    this.signalling.close();
    ui.message.disabled = true;
    ui.send.disabled = true;
    ui.leave.hidden = true;
    ui.rtt.textContent = "–";
    showMembers([], null);
    setJoinEnabled(true);
  }
}

// Page ----------------------------------------------------------------------

let visit = null;

function setStatus(words, tone) {
  ui.status.textContent = words;
  ui.status.dataset.tone = tone;
}

function setJoinEnabled(enabled) {
  for (const control of [ui.code, ui.name, ui.password, ui.join]) control.disabled = !enabled;
  if (enabled) ui.joinForm.hidden = false;
  ui.cancel.hidden = enabled; // while waiting for the host, the way back
  ui.join.textContent = visit && visit.ended ? "Join again" : "Join";
}

function showLobby(code, name) {
  ui.joinForm.hidden = true; // in the lobby: the chat takes the room
  ui.lobby.hidden = false;
  ui.leave.hidden = false;
  ui.lobbyCode.textContent = code;
  ui.who.textContent = `You are ${name}`;
}

/** The host's list of who is in the lobby; the host and this guest are marked. */
function showMembers(members, ownPeerId) {
  const items = members.map((member) => {
    const item = document.createElement("li");
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = member.name;
    item.append(name);
    const mark = member.host ? "host" : member.peerId === ownPeerId ? "you" : "";
    if (mark) {
      const tag = document.createElement("span");
      tag.className = "tag";
      tag.textContent = ` (${mark})`;
      item.append(tag);
    }
    return item;
  });
  ui.members.replaceChildren(...items);
  ui.members.hidden = items.length === 0;
  ui.membersHeading.hidden = items.length === 0;
}

/** A line in the chat log from the page itself (not typed by anyone). */
function addNote(text) {
  const item = document.createElement("li");
  item.className = "chat-note";
  item.textContent = text;
  ui.chatLog.append(item);
}

function addChat(who, text, kind) {
  const item = document.createElement("li");
  item.className = `chat-${kind}`;
  const author = document.createElement("span");
  author.className = "who";
  author.textContent = who;
  const body = document.createElement("span");
  body.className = "text";
  body.textContent = text;
  item.append(author, body);
  ui.chatLog.append(item);
  item.scrollIntoView({ block: "nearest" });
}

ui.joinForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const code = normaliseCode(ui.code.value);
  const name = ui.name.value.trim();
  if (!code) {
    setStatus("That code does not look right: it has 6 letters and digits", "error");
    ui.code.setAttribute("aria-invalid", "true");
    ui.code.focus();
    return;
  }
  ui.code.removeAttribute("aria-invalid");
  if (!name) {
    setStatus("Type your name first", "error");
    ui.name.setAttribute("aria-invalid", "true");
    ui.name.focus();
    return;
  }
  ui.name.removeAttribute("aria-invalid");
  ui.password.removeAttribute("aria-invalid");
  ui.code.value = code;
  ui.chatLog.replaceChildren();
  showMembers([], null);
  visit = new Visit(code, name, ui.password.value);
  setJoinEnabled(false);
  visit.start();
});

ui.chatForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const text = ui.message.value.trim();
  if (text && visit) {
    visit.sendChat(text);
    ui.message.value = "";
  }
});

ui.leave.addEventListener("click", () => {
  if (visit) visit.leave();
});

ui.cancel.addEventListener("click", () => {
  if (visit) visit.cancel();
  ui.join.focus();
});

// A peer connection made while the guest types (a browser takes several
// milliseconds to make one); the first Join takes it, later ones make their own.
let sparePeerConnection = preparePeerConnection();

function takeSparePeerConnection() {
  const pc = sparePeerConnection;
  sparePeerConnection = null;
  return pc;
}

const fromPath = codeFromPath(window.location.pathname);
if (fromPath) {
  ui.code.value = normaliseCode(fromPath) || fromPath;
  ui.name.focus();
} else {
  ui.code.focus();
}
document.documentElement.dataset.ready = "true";
