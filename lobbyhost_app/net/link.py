"""One peer link over WebRTC, the same on host and guest side: a registry of data channels.

A :class:`PeerLink` owns one ``RTCPeerConnection``. Users of data channels
register a handler per label with :meth:`PeerLink.on_channel`; the offerer
opens channels with :meth:`PeerLink.open_channel`, the answerer takes those
the other side opens (:meth:`PeerLink.accept_channels`), and a channel whose
label has no handler is logged and ignored. The link counts every channel's
traffic, keeps the link's state, RTT and route, and applies the other side's
description and candidates.

The channels of LobbyHost's data-channel contract, ``lobby`` and ``game``, are
two such users (:mod:`.channels`); the ``lobby`` channel decides when the link
counts as open.

What the other side sends through signalling is untrusted: a description that
aiortc cannot take (not SDP, out of turn, an SCTP port out of range) raises
:class:`~lobbyhost_app.net.errors.PeerError`, bad candidates are logged and
ignored, and at most :data:`MAX_REMOTE_CANDIDATES` remote candidates are used
(aiortc neither filters nor caps them: each one is an address to send checks to).

Checks of pairs through a TURN relay wait ``relay_delay_s`` so that a direct
route wins when there is one (:mod:`.route_preference`), and ICE reports a
nominated pair at once rather than at aioice's next 20 ms tick
(:mod:`.ice_completion`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Final

import msgspec
from aiortc import RTCDataChannel, RTCPeerConnection, RTCSessionDescription
from aiortc.exceptions import InvalidStateError
from aiortc.sdp import MediaDescription, candidate_from_sdp
from aiortc.sdp import SessionDescription as ParsedSdp

from signalling_server.protocol import IceCandidate, SessionDescription

from ..session_values import LinkState, LinkStats
from .errors import PeerError
from .ice_completion import finish_ice_promptly
from .route_preference import DEFAULT_RELAY_DELAY_S, prefer_direct_pairs

logger = logging.getLogger(__name__)

ChannelHandler = Callable[[RTCDataChannel], None]
StateListener = Callable[["PeerLink"], None]
#: The ``candidate`` that says no more candidates will come.
END_OF_CANDIDATES: Final = msgspec.Raw(b"null")
#: Remote candidates used per link, in its description and trickled; more are ignored.
MAX_REMOTE_CANDIDATES: Final = 64
_CANDIDATE_LINE: Final = "a=candidate:"


class PeerLink:
    """A peer connection with its data channels by label, state, traffic and RTT.

    State listeners (:meth:`add_state_listener`) are called on the event loop
    each time :attr:`state` changes.
    """

    def __init__(
        self,
        pc: RTCPeerConnection,
        *,
        max_remote_candidates: int = MAX_REMOTE_CANDIDATES,
        relay_delay_s: float = DEFAULT_RELAY_DELAY_S,
    ) -> None:
        self.pc = pc
        self.relay_delay_s = relay_delay_s
        self.state = LinkState.CONNECTING
        self.rtt_ms: float | None = None
        self.route: str | None = None
        self.bytes_in = 0
        self.bytes_out = 0
        self.connected_since: float | None = None
        #: The reason the other side gave when it said bye, if it said one.
        self.bye_reason: str | None = None
        self._handlers: dict[str, ChannelHandler] = {}
        self._families: dict[str, ChannelHandler] = {}
        self._accepting = False
        #: Labels this side opened with :meth:`open_channel`: the peer may not open them too.
        self._opened_here: set[str] = set()
        self._state_listeners: list[StateListener] = []
        self._opened = asyncio.get_running_loop().create_future()
        #: Candidates received before the remote description; ``None`` once it is set.
        self._early_candidates: list[IceCandidate | None] | None = []
        self._remote_description_given = False
        self._candidates_left = max_remote_candidates
        self._max_remote_candidates = max_remote_candidates
        self._said_budget_spent = False
        pc.on("connectionstatechange", self._on_connection_state)

    # Channels ------------------------------------------------------------------

    def on_channel(self, label: str, handler: ChannelHandler) -> None:
        """Hand each channel labelled ``label`` (opened here or by the peer) to ``handler``."""
        self._handlers[label] = handler

    def on_channel_family(self, prefix: str, handler: ChannelHandler) -> None:
        """Hand each channel the peer opens with a label starting ``prefix`` to ``handler``.

        For users that open many channels, one per connection (the game bridge's
        ``fwd/...``); an exact label (:meth:`on_channel`) wins over a family.
        """
        self._families[prefix] = handler

    def open_channel(
        self, label: str, *, ordered: bool = True, max_retransmits: int | None = None
    ) -> RTCDataChannel:
        """Offerer side: create a channel (before the offer) and hand it to its handler."""
        handler = self._handlers.get(label)
        if handler is None:
            raise ValueError(f"no handler for data channel {label!r}")
        channel = self.create_channel(label, ordered=ordered, max_retransmits=max_retransmits)
        self._opened_here.add(label)
        handler(channel)
        return channel

    def create_channel(
        self, label: str, *, ordered: bool = True, max_retransmits: int | None = None
    ) -> RTCDataChannel:
        """Create a channel (any time, either side) whose traffic the link counts; no handler."""
        channel = self.pc.createDataChannel(label, ordered=ordered, maxRetransmits=max_retransmits)
        channel.on("message", self._count_in)
        return channel

    def accept_channels(self) -> None:
        """Take the channels the other side opens, by their handlers (once; either side)."""
        if not self._accepting:
            self._accepting = True
            self.pc.on("datachannel", self._on_datachannel)

    def send(self, channel: RTCDataChannel, data: str | bytes) -> bool:
        """Send on ``channel`` if it is open (counted); ``False`` if it is not, or cannot take it.

        The other side's description sets the largest message it takes: a peer
        that says 1 byte must not make sending raise in whoever sends to it.
        """
        if channel.readyState != "open":
            return False
        try:
            channel.send(data)
        except (ValueError, InvalidStateError) as exc:
            logger.info("not sent on data channel %r: %s", channel.label, exc)
            return False
        self.bytes_out += len(data)
        return True

    def _on_datachannel(self, channel: RTCDataChannel) -> None:
        if channel.label in self._opened_here:
            # A second "lobby" from the other side would take the place of this side's own.
            logger.warning("refusing a data channel %r the other side may not open", channel.label)
            close_channel(channel)
            return
        handler = self._handlers.get(channel.label) or next(
            (h for prefix, h in self._families.items() if channel.label.startswith(prefix)), None
        )
        if handler is None:
            logger.info("ignoring unknown data channel %r", channel.label)
            return
        self._attach(channel, handler)

    def _attach(self, channel: RTCDataChannel, handler: ChannelHandler) -> None:
        channel.on("message", self._count_in)
        handler(channel)

    def _count_in(self, data: str | bytes) -> None:
        self.bytes_in += len(data)

    # State ------------------------------------------------------------------------

    def add_state_listener(self, listener: StateListener) -> None:
        self._state_listeners.append(listener)

    async def wait_open(self) -> None:
        """Until the link is open; ``ConnectionError`` if it ends first."""
        await asyncio.shield(self._opened)

    def mark_open(self) -> None:
        """The channel that defines the link (``lobby``) opened: the link is connected."""
        self.connected_since = time.time()
        self.route = selected_route(self.pc)
        self._set_state(LinkState.CONNECTED)
        if not self._opened.done():
            self._opened.set_result(None)

    def mark_closed(self, bye_reason: str | None = None) -> None:
        """The other side said bye (with its reason) or the defining channel closed."""
        if bye_reason is not None and self.bye_reason is None:
            self.bye_reason = bye_reason
        self._set_state(LinkState.CLOSED)

    def mark_failed(self) -> None:
        """Something the other side sent broke this link: it has failed."""
        self._set_state(LinkState.FAILED)

    def record_rtt(self, rtt_ms: float) -> None:
        """A round trip was measured; the route is looked at again with it."""
        self.rtt_ms = rtt_ms
        self.route = selected_route(self.pc) or self.route

    async def close(self) -> None:
        """Close the peer connection (a user says bye on its channel first if it wants)."""
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
        for listener in list(self._state_listeners):
            try:
                listener(self)
            except Exception:
                logger.exception("a link state listener failed on %s", state.value)

    # Signalling ------------------------------------------------------------------------

    def local_description(self) -> msgspec.Raw:
        """This side's offer or answer as protocol v1 relays it (a ``SessionDescription``)."""
        local = self.pc.localDescription
        description = msgspec.convert({"type": local.type, "sdp": local.sdp}, SessionDescription)
        return msgspec.Raw(msgspec.json.encode(description))

    async def set_remote_description(self, kind: str, sdp: str) -> None:
        """Apply the other side's offer or answer, then the candidates that came early.

        One per link. Raises :class:`PeerError` for a second one, or one aiortc
        cannot take (it raises anything on hostile SDP, or fails later in a task
        of its own for an SCTP port out of range: that is checked here first).
        """
        if self._remote_description_given:
            raise PeerError(f"a second {kind}: this link already has the other side's description")
        self._remote_description_given = True
        checked = self._checked_sdp(sdp)
        # The offerer's ICE transport exists already, the answerer's from the offer
        # on; either way before checks start (they need both descriptions).
        prefer_direct_pairs(self.pc, self.relay_delay_s)
        finish_ice_promptly(self.pc)
        try:
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp=checked, type=kind))
        except Exception as exc:  # untrusted input: whatever aiortc raises on it, refused
            raise PeerError(f"the other side's {kind} could not be applied: {exc!r}") from exc
        prefer_direct_pairs(self.pc, self.relay_delay_s)
        finish_ice_promptly(self.pc)
        early, self._early_candidates = self._early_candidates, None
        for candidate in early or ():
            await self._apply_candidate(candidate)

    async def add_remote_candidate(self, candidate: IceCandidate | None) -> None:
        """Apply a trickled candidate (``None``: end of candidates); never raises.

        Candidates that arrive before the remote description wait for it, in
        order. A bad one is logged and ignored, and so is every one past the
        link's budget (:data:`MAX_REMOTE_CANDIDATES`, the description's included).
        """
        if candidate is not None and candidate.candidate and not self._take_candidates(1):
            return
        if self._early_candidates is not None:
            self._early_candidates.append(candidate)
            return
        await self._apply_candidate(candidate)

    async def _apply_candidate(self, candidate: IceCandidate | None) -> None:
        try:
            if candidate is None or not candidate.candidate:
                await self.pc.addIceCandidate(None)
                return
            parsed = candidate_from_sdp(candidate.candidate.removeprefix("candidate:"))
            parsed.sdpMid = candidate.sdpMid
            parsed.sdpMLineIndex = candidate.sdpMLineIndex
            await self.pc.addIceCandidate(parsed)
        except Exception as exc:  # untrusted input: aiortc and aioice raise anything on it
            logger.info("ignoring a remote candidate that cannot be used: %r", exc)

    def _take_candidates(self, wanted: int) -> int:
        """How many of ``wanted`` remote candidates the budget allows (said once when spent)."""
        taken = min(wanted, self._candidates_left)
        self._candidates_left -= taken
        if taken < wanted and not self._said_budget_spent:
            self._said_budget_spent = True
            logger.warning(
                "the other side sent more than %d ICE candidates: ignoring the rest",
                self._max_remote_candidates,
            )
        return taken

    def _checked_sdp(self, sdp: str) -> str:
        """``sdp`` if aiortc can take it, candidates cut to the budget; else :class:`PeerError`."""
        try:
            parsed = ParsedSdp.parse(sdp)
        except Exception as exc:  # aiortc's parser raises whatever a malformed line trips on
            raise PeerError(f"not a session description: {exc!r}") from exc
        for media in parsed.media:
            if media.kind == "application" and _sctp_port(media) is None:
                raise PeerError("the description's SCTP port is missing or out of range")
        lines = sdp.splitlines(keepends=True)
        given = sum(1 for line in lines if line.startswith(_CANDIDATE_LINE))
        kept = self._take_candidates(given)
        if kept == given:
            return sdp
        out = []
        for line in lines:
            if line.startswith(_CANDIDATE_LINE):
                if kept == 0:
                    continue
                kept -= 1
            out.append(line)
        return "".join(out)


def _sctp_port(media: MediaDescription) -> int | None:
    """The SCTP port an application section names (as aiortc reads it), if it is one."""
    port: object = media.sctp_port
    if media.profile == "DTLS/SCTP":  # the legacy syntax: the port is the format
        try:
            port = int(media.fmt[0])
        except (IndexError, ValueError):
            return None
    return port if isinstance(port, int) and 0 < port <= 0xFFFF else None


def close_channel(channel: RTCDataChannel) -> None:
    """Close ``channel`` unless it is closing or closed, whatever state its connection is in.

    aiortc's close raises ``KeyError`` for a channel whose connection closed
    under it before the channel heard of it (seen while a link closes).
    """
    if channel.readyState in ("closing", "closed"):
        return
    with contextlib.suppress(KeyError):
        channel.close()


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


__all__ = [
    "ChannelHandler",
    "LinkState",
    "LinkStats",
    "PeerLink",
    "close_channel",
    "selected_route",
]
