"""The two data channels of LobbyHost's contract, as users of a :class:`PeerLink`.

The contract (browser and game clients rely on it; see README):

* ``lobby``: reliable, ordered; JSON text messages:
  ``{"type":"ping","t":N}`` answered by ``{"type":"pong","t":N}`` (either side
  may ping; ``t`` is the sender's clock in ms and comes back unchanged),
  ``{"type":"chat","text":"..."}``, and ``{"type":"bye","reason":R}`` before a
  deliberate close (R is ``closed``, ``kicked`` or ``left``; from a guest, the
  host takes any reason as ``left``). A pong counts only for a ping this side
  sent and still waits for. Unknown types, and messages that are not JSON
  objects, are ignored, so the contract can grow. The link is open when this
  channel is.
  From the host only: chat carries ``"from"`` (a name) and ``"peer_id"``, the
  host's own lines and those it relays from other guests, and
  ``{"type":"members","members":[{"name","peer_id","host"}, ...]}`` lists who is
  in the lobby. A host reads neither field from a guest: it names senders itself.
  Either side: ``{"type":"ports","ports":[{"port","proto","label"}, ...]}`` lists
  the game ports it shares, whole each time (the game bridge, :mod:`.bridge`).
* ``game``: reliable, ordered; the game's own data, passed through untouched.

The host (the offerer) opens both; the guest takes them as they come.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import time
from collections import deque
from collections.abc import Callable, Collection, Sequence
from typing import Any, Final, TypeGuard

from aiortc import RTCDataChannel

from ..session_values import LinkState, Member
from .link import PeerLink

LOBBY_CHANNEL: Final = "lobby"
GAME_CHANNEL: Final = "game"
MAX_CHAT_LENGTH: Final = 2000
#: The host's peer id (protocol v1); a chat line with another one was relayed from a guest.
HOST_PEER_ID: Final = 1
#: A member list longer than this is cut (a lobby holds at most 64 guests).
MAX_MEMBERS: Final = 256
MAX_MEMBER_NAME_LENGTH: Final = 64
#: Every reason a ``bye`` may give ...
BYE_REASONS: Final = frozenset({"closed", "kicked", "left", "handed_over"})
#: ... and the one a guest may give: guests neither kick nor close lobbies.
GUEST_BYES: Final = frozenset({"left"})
#: Pings whose pong may still come; older stamps are forgotten.
_MAX_PINGS_IN_FLIGHT: Final = 32

logger = logging.getLogger(__name__)


class LobbyChannel:
    """The ``lobby`` channel: chat, pings for RTT, and bye; it opens the link.

    Callbacks (optional, called on the event loop): ``on_chat(text)``, ``on_rtt(ms)``,
    ``on_ports(listed)`` (the other side's shared ports, unchecked: see
    :func:`.forwards.parse_ports`);
    guest side, ``on_member_chat(name, peer_id, text)`` for lines the host relays from
    other guests (unset, they reach ``on_chat``) and ``on_members(members)``.
    """

    def __init__(
        self,
        link: PeerLink,
        *,
        ping_interval: float = 2.0,
        peer_byes: Collection[str] = BYE_REASONS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``peer_byes``: the reasons the other side's ``bye`` may give; any other counts as
        ``left`` (a host passes :data:`GUEST_BYES`). ``clock`` (seconds) times the pings."""
        self.link = link
        self.on_chat: Callable[[str], None] | None = None
        self.on_rtt: Callable[[float], None] | None = None
        self.on_member_chat: Callable[[str, int, str], None] | None = None
        self.on_members: Callable[[tuple[Member, ...]], None] | None = None
        self.on_ports: Callable[[object], None] | None = None
        self._ping_interval = ping_interval
        self._channel: RTCDataChannel | None = None
        self._pinger: asyncio.Task[None] | None = None
        self._early_chat: list[dict[str, Any]] = []
        self._peer_byes = frozenset(peer_byes)
        self._clock = clock
        #: The ``t`` of each ping sent whose pong has not come: only those pongs count.
        self._pings_in_flight: deque[float] = deque(maxlen=_MAX_PINGS_IN_FLIGHT)
        link.on_channel(LOBBY_CHANNEL, self._attach)
        link.add_state_listener(self._on_link_state)

    def open(self) -> None:
        """Offerer side: create the channel (before the offer)."""
        self.link.open_channel(LOBBY_CHANNEL, ordered=True)

    def send_chat(self, text: str, *, sender: Member | None = None) -> None:
        """Send chat now, or as soon as the link opens (chat typed early is not lost).

        ``sender`` (host side) names who said it: the host, or the guest whose line is relayed.
        """
        message: dict[str, Any] = {"type": "chat", "text": text[:MAX_CHAT_LENGTH]}
        if sender is not None:
            message["from"] = sender.name
            message["peer_id"] = sender.peer_id
            if sender.host:
                message["host"] = True  # a promoted host's peer id is not 1
        if self.link.state is LinkState.CONNECTING:
            self._early_chat.append(message)
        else:
            self._send(message)

    def send_members(self, members: Sequence[Member]) -> None:
        """Host side: who is in the lobby; sent only while the channel is open."""
        listed = [{"name": m.name, "peer_id": m.peer_id, "host": m.host} for m in members]
        self._send({"type": "members", "members": listed})

    def send_message(self, message: dict[str, Any]) -> None:
        """Send a message of another user of this channel (``ports``); only while it is open."""
        self._send(message)

    def _now_ms(self) -> float:
        return self._clock() * 1000.0

    def ping(self) -> None:
        t = self._now_ms()
        self._pings_in_flight.append(t)
        self._send({"type": "ping", "t": t})

    async def close(self, bye: str | None = None) -> None:
        """Stop pinging; with ``bye`` (``closed``, ``kicked``, ``left``), first tell the other side.

        Call it before the link closes: waiting for the pinger to stop gives the
        bye its turn to leave before the peer connection goes.
        """
        if bye is not None:
            self._send({"type": "bye", "reason": bye})
        pinger, self._pinger = self._pinger, None
        if pinger is not None:
            pinger.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pinger

    # Internals ----------------------------------------------------------------------

    def _attach(self, channel: RTCDataChannel) -> None:
        self._channel = channel
        channel.on("message", self._receive)
        channel.on("close", self._on_close)
        if channel.readyState == "open":
            self._on_open()
        else:
            channel.on("open", self._on_open)

    def _send(self, message: dict[str, Any]) -> None:
        if self._channel is not None:
            self.link.send(self._channel, json.dumps(message, separators=(",", ":")))

    def _on_open(self) -> None:
        self.link.mark_open()
        self._pinger = asyncio.create_task(self._ping_forever(), name="peer-pinger")
        for message in self._early_chat:
            self._send(message)
        self._early_chat.clear()

    def _on_close(self) -> None:
        if self.link.state is LinkState.CONNECTED:
            self.link.mark_closed()

    def _on_link_state(self, link: PeerLink) -> None:
        if link.state is not LinkState.CONNECTED and self._pinger is not None:
            self._pinger.cancel()

    def _receive(self, data: str | bytes) -> None:
        """A message from the other side: untrusted, so nothing in it may raise out of here.

        (An exception would reach aiortc's receive loop and tear the connection down.)
        """
        try:
            self._on_message(data)
        except Exception:
            logger.exception("handling a lobby message failed: the link fails")
            self.link.mark_failed()

    def _on_message(self, data: str | bytes) -> None:
        try:
            message = json.loads(data, parse_constant=_not_json_constant, parse_float=_finite_float)
            kind = message["type"]
        except (ValueError, KeyError, TypeError, RecursionError):
            logger.info("ignoring a lobby message that is not JSON with a type")
            return
        if kind == "ping":
            self._send({"type": "pong", "t": message.get("t")})
        elif kind == "pong":
            t = message.get("t")
            if not isinstance(t, int | float) or t not in self._pings_in_flight:
                logger.info("ignoring a pong for no ping in flight")
            else:
                self._pings_in_flight.remove(t)
                rtt_ms = max(0.0, self._now_ms() - t)
                self.link.record_rtt(rtt_ms)
                if self.on_rtt is not None:
                    self.on_rtt(rtt_ms)
        elif kind == "chat":
            text = message.get("text")
            if isinstance(text, str) and text.strip():
                self._on_chat(message, text[:MAX_CHAT_LENGTH])
        elif kind == "members":
            if self.on_members is not None:
                self.on_members(parse_members(message.get("members")))
        elif kind == "ports":
            if self.on_ports is not None:
                self.on_ports(message.get("ports"))
        elif kind == "bye":
            reason = message.get("reason")
            peer_may_say = isinstance(reason, str) and reason in self._peer_byes
            self.link.mark_closed(reason if peer_may_say else "left")

    def _on_chat(self, message: dict[str, Any], text: str) -> None:
        sender = relayed_sender(message) if self.on_member_chat is not None else None
        if sender is not None and self.on_member_chat is not None:
            self.on_member_chat(sender.name, sender.peer_id, text)
        elif self.on_chat is not None:
            self.on_chat(text)

    async def _ping_forever(self) -> None:
        while self.link.state is LinkState.CONNECTED:
            self.ping()
            await asyncio.sleep(self._ping_interval)  # the ping period itself


class GameChannel:
    """The ``game`` channel: the game's own data, text or binary, passed through untouched.

    Callback (optional): ``on_message(data)``.
    """

    def __init__(self, link: PeerLink) -> None:
        self.link = link
        self.on_message: Callable[[str | bytes], None] | None = None
        self._channel: RTCDataChannel | None = None
        link.on_channel(GAME_CHANNEL, self._attach)

    def open(self) -> None:
        """Offerer side: create the channel (before the offer)."""
        self.link.open_channel(GAME_CHANNEL, ordered=True)

    def send(self, data: str | bytes) -> bool:
        """Send if the channel is open; ``False`` if it is not (yet)."""
        return self._channel is not None and self.link.send(self._channel, data)

    def _attach(self, channel: RTCDataChannel) -> None:
        self._channel = channel
        channel.on("message", self._on_message)

    def _on_message(self, data: str | bytes) -> None:
        if self.on_message is not None:
            self.on_message(data)


def relayed_sender(message: dict[str, Any]) -> Member | None:
    """The guest a chat line came from when the host relayed it; ``None`` for the host's own."""
    name, peer_id = message.get("from"), message.get("peer_id")
    if not isinstance(name, str) or not name.strip() or not _is_peer_id(peer_id):
        return None
    if peer_id == HOST_PEER_ID or message.get("host") is True:
        return None
    return Member(name.strip()[:MAX_MEMBER_NAME_LENGTH], peer_id)


def parse_members(value: object) -> tuple[Member, ...]:
    """The members of a ``members`` message; entries that are not members are left out."""
    if not isinstance(value, list):
        return ()
    members = []
    for entry in value[:MAX_MEMBERS]:
        if not isinstance(entry, dict):
            continue
        name, peer_id, host = entry.get("name"), entry.get("peer_id"), entry.get("host", False)
        if isinstance(name, str) and name.strip() and _is_peer_id(peer_id):
            members.append(Member(name.strip()[:MAX_MEMBER_NAME_LENGTH], peer_id, host is True))
    return tuple(members)


def _is_peer_id(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _not_json_constant(name: str) -> Any:
    """``NaN`` and ``Infinity`` are not JSON, whatever Python's json module reads."""
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999: too large for a float
        raise ValueError(f"{text[:20]} is out of range")
    return value
