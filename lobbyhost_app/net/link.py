"""One peer link over WebRTC data channels, the same on host and guest side.

The data-channel contract (browser and game clients rely on it; see README):

* ``lobby``: reliable, ordered; JSON text messages:
  ``{"type":"ping","t":N}`` answered by ``{"type":"pong","t":N}`` (either side
  may ping; ``t`` is the sender's clock in ms and comes back unchanged),
  ``{"type":"chat","text":"..."}``, and ``{"type":"bye","reason":R}`` before a
  deliberate close (R is ``closed``, ``kicked`` or ``left``).
* ``game``: reliable, ordered; the game's own data, passed through untouched.

The host opens both channels (it is the offerer); the guest receives them.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiortc import RTCDataChannel, RTCPeerConnection, RTCSessionDescription
from aiortc.sdp import candidate_from_sdp

LOBBY_CHANNEL = "lobby"
GAME_CHANNEL = "game"
MAX_CHAT_LENGTH = 2000

logger = logging.getLogger(__name__)


class LinkState(enum.Enum):
    """Where a peer link stands, as a user would put it."""

    CONNECTING = "connecting"
    CONNECTED = "connected"
    FAILED = "failed"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class LinkStats:
    """A snapshot of one link for lists and logs."""

    state: LinkState
    rtt_ms: float | None
    route: str | None
    bytes_in: int
    bytes_out: int
    connected_since: float | None  # wall-clock time


class PeerLink:
    """A peer connection with its ``lobby`` and ``game`` channels, pings and counters.

    Callbacks (all optional, called on the event loop):
    ``on_state(link)``, ``on_chat(text)``, ``on_game(data)``, ``on_rtt(ms)``.
    """

    def __init__(self, pc: RTCPeerConnection, *, ping_interval: float = 2.0) -> None:
        self.pc = pc
        self.state = LinkState.CONNECTING
        self.rtt_ms: float | None = None
        self.route: str | None = None
        self.bytes_in = 0
        self.bytes_out = 0
        self.connected_since: float | None = None
        self.on_state: Callable[[PeerLink], None] | None = None
        self.on_chat: Callable[[str], None] | None = None
        self.on_game: Callable[[str | bytes], None] | None = None
        self.on_rtt: Callable[[float], None] | None = None
        #: The reason the other side gave in its ``bye``, if it said one.
        self.bye_reason: str | None = None
        self._ping_interval = ping_interval
        self._lobby: RTCDataChannel | None = None
        self._game: RTCDataChannel | None = None
        self._pinger: asyncio.Task[None] | None = None
        self._opened = asyncio.get_running_loop().create_future()
        self._early_chat: list[dict[str, Any]] = []
        #: Candidates received before the remote description; ``None`` once it is set.
        self._early_candidates: list[dict[str, Any] | None] | None = []
        pc.on("connectionstatechange", self._on_connection_state)

    # Channels ------------------------------------------------------------------

    def open_channels(self) -> None:
        """Host side: create both channels (before the offer)."""
        self.attach(self.pc.createDataChannel(LOBBY_CHANNEL, ordered=True))
        self.attach(self.pc.createDataChannel(GAME_CHANNEL, ordered=True))

    def accept_channels(self) -> None:
        """Guest side: take the channels the host opens."""
        self.pc.on("datachannel", self.attach)

    def attach(self, channel: RTCDataChannel) -> None:
        if channel.label == LOBBY_CHANNEL:
            self._lobby = channel
            channel.on("message", self._on_lobby_message)
            if channel.readyState == "open":
                self._on_lobby_open()
            else:
                channel.on("open", self._on_lobby_open)
            channel.on("close", self._on_lobby_close)
        elif channel.label == GAME_CHANNEL:
            self._game = channel
            channel.on("message", self._on_game_message)
        else:
            logger.info("ignoring unknown data channel %r", channel.label)

    async def wait_open(self) -> None:
        """Until the ``lobby`` channel is open; ``ConnectionError`` if the link ends first."""
        await asyncio.shield(self._opened)

    # Sending --------------------------------------------------------------------

    def send_chat(self, text: str) -> None:
        """Send chat now, or as soon as the link opens (chat typed early is not lost)."""
        message = {"type": "chat", "text": text[:MAX_CHAT_LENGTH]}
        if self.state is LinkState.CONNECTING:
            self._early_chat.append(message)
        else:
            self._send_lobby(message)

    def send_game(self, data: str | bytes) -> None:
        if self._game is not None and self._game.readyState == "open":
            self._game.send(data)
            self.bytes_out += len(data)

    def ping(self) -> None:
        self._send_lobby({"type": "ping", "t": _now_ms()})

    async def close(self, bye: str | None = None) -> None:
        """Close the link; with ``bye``, first tell the other side why."""
        if bye is not None:
            self._send_lobby({"type": "bye", "reason": bye})
        if self._pinger is not None:
            self._pinger.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pinger
        await self.pc.close()
        self._set_state(LinkState.CLOSED)

    def stats(self) -> LinkStats:
        return LinkStats(
            self.state,
            self.rtt_ms,
            self.route,
            self.bytes_in,
            self.bytes_out,
            self.connected_since,
        )

    # Remote signalling ----------------------------------------------------------------

    async def set_remote_description(self, kind: str, sdp: str) -> None:
        """Apply the other side's offer or answer, then the candidates that came early."""
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type=kind))
        early, self._early_candidates = self._early_candidates, None
        for candidate in early or ():
            await self._apply_candidate(candidate)

    async def add_remote_candidate(self, candidate: dict[str, Any] | None) -> None:
        """Apply a trickled candidate (``None``: end of candidates).

        Candidates that arrive before the remote description wait for it, in order.
        """
        if self._early_candidates is not None:
            self._early_candidates.append(candidate)
            return
        await self._apply_candidate(candidate)

    async def _apply_candidate(self, candidate: dict[str, Any] | None) -> None:
        if candidate is None or not candidate.get("candidate"):
            await self.pc.addIceCandidate(None)
            return
        parsed = candidate_from_sdp(str(candidate["candidate"]).removeprefix("candidate:"))
        parsed.sdpMid = candidate.get("sdpMid")
        parsed.sdpMLineIndex = candidate.get("sdpMLineIndex")
        await self.pc.addIceCandidate(parsed)

    # Internals ----------------------------------------------------------------------------

    def _send_lobby(self, message: dict[str, Any]) -> None:
        if self._lobby is not None and self._lobby.readyState == "open":
            data = json.dumps(message, separators=(",", ":"))
            self._lobby.send(data)
            self.bytes_out += len(data)

    def _on_lobby_open(self) -> None:
        self.connected_since = time.time()
        self.route = selected_route(self.pc)
        self._set_state(LinkState.CONNECTED)
        if not self._opened.done():
            self._opened.set_result(None)
        self._pinger = asyncio.create_task(self._ping_forever(), name="peer-pinger")
        for message in self._early_chat:
            self._send_lobby(message)
        self._early_chat.clear()

    def _on_lobby_close(self) -> None:
        if self.state is LinkState.CONNECTED:
            self._set_state(LinkState.CLOSED)

    def _on_lobby_message(self, data: str | bytes) -> None:
        self.bytes_in += len(data)
        try:
            message = json.loads(data)
            kind = message["type"]
        except (ValueError, KeyError, TypeError):
            logger.info("ignoring a lobby message that is not JSON with a type")
            return
        if kind == "ping":
            self._send_lobby({"type": "pong", "t": message.get("t")})
        elif kind == "pong":
            t = message.get("t")
            if isinstance(t, int | float):
                self.rtt_ms = max(0.0, _now_ms() - t)
                if self.on_rtt is not None:
                    self.on_rtt(self.rtt_ms)
        elif kind == "chat":
            text = message.get("text")
            if isinstance(text, str) and text.strip() and self.on_chat is not None:
                self.on_chat(text[:MAX_CHAT_LENGTH])
        elif kind == "bye":
            reason = message.get("reason")
            self.bye_reason = reason if isinstance(reason, str) else "left"
            self._set_state(LinkState.CLOSED)

    def _on_game_message(self, data: str | bytes) -> None:
        self.bytes_in += len(data)
        if self.on_game is not None:
            self.on_game(data)

    async def _ping_forever(self) -> None:
        while self.state is LinkState.CONNECTED:
            self.ping()
            self.route = selected_route(self.pc) or self.route
            await asyncio.sleep(self._ping_interval)  # the ping period itself

    def _on_connection_state(self) -> None:
        state = self.pc.connectionState
        if state == "failed":
            self._set_state(LinkState.FAILED)
        elif state == "closed" and self.state is not LinkState.FAILED:
            self._set_state(LinkState.CLOSED)

    def _set_state(self, state: LinkState) -> None:
        if state is self.state or self.state in (LinkState.CLOSED, LinkState.FAILED):
            return
        self.state = state
        if state is not LinkState.CONNECTED and not self._opened.done():
            self._opened.set_exception(ConnectionError(f"the link {state.value}"))
            self._opened.exception()  # retrieved: nobody may be waiting
        if self.on_state is not None:
            self.on_state(self)


def selected_route(pc: RTCPeerConnection) -> str | None:
    """``host``, ``srflx`` or ``relay``: the kind of path ICE chose, or ``None``.

    aiortc does not expose the selected candidate pair; this reads aioice's
    nominated pair and answers ``None`` if those internals ever change.
    """
    try:
        connection = pc.sctp.transport.transport._connection  # type: ignore[union-attr]
        pair = connection._nominated.get(1)
        if pair is None:
            return None
        kinds = {pair.local_candidate.type, pair.remote_candidate.type}
    except AttributeError:
        return None
    if "relay" in kinds:
        return "relay"
    if kinds & {"srflx", "prflx"}:
        return "srflx"
    return "host"


def _now_ms() -> float:
    return time.monotonic() * 1000.0
