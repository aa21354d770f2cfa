"""The host's session: a lobby on a signalling server and a peer link per guest.

:class:`HostSession` is Qt-free: the desktop app's controller, the headless
host and the tests drive it the same way. It reports what happens as the
events below, to listeners added with :meth:`HostSession.add_listener`.

The host is the offerer: on accept it makes the ``RTCPeerConnection``, opens
the ``lobby`` and ``game`` channels and sends the offer; the guest answers and
trickles its candidates, which the host applies as they come.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

from aiortc import RTCPeerConnection

from .errors import NetError, PeerError, ServerError
from .ice import IceSettings
from .link import LinkState, LinkStats, PeerLink
from .signalling import SignallingClient

logger = logging.getLogger(__name__)
#: How long closing waits for peer links to say bye and close.
_CLOSE_WAIT_S = 5.0
T = TypeVar("T")


# Events ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LobbyOpened:
    lobby_id: str
    connection_id: str


@dataclass(frozen=True, slots=True)
class JoinRequested:
    connection_id: str
    name: str
    requested_at: float  # wall-clock time


@dataclass(frozen=True, slots=True)
class RequestGone:
    """A request left the list: cancelled, timed out, or decided elsewhere."""

    connection_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class PeerUpdated:
    """A guest's link changed (state, RTT, route or traffic)."""

    connection_id: str
    name: str
    peer_id: int
    stats: LinkStats


@dataclass(frozen=True, slots=True)
class PeerGone:
    connection_id: str
    name: str
    peer_id: int
    reason: str  # left, kicked, disconnected, failed, closed


@dataclass(frozen=True, slots=True)
class PeerResumed:
    """A guest's signalling came back on a new connection; its peer link never dropped."""

    old_connection_id: str
    connection_id: str
    peer_id: int


@dataclass(frozen=True, slots=True)
class ChatReceived:
    connection_id: str
    name: str
    text: str


@dataclass(frozen=True, slots=True)
class LobbyInfoChanged:
    info: dict[str, Any]


@dataclass(frozen=True, slots=True)
class LobbyEnded:
    reason: str


@dataclass(frozen=True, slots=True)
class SignallingStatus:
    """``lost``, ``restored`` or ``failed``: the link to the signalling server."""

    status: str


HostEvent = (
    LobbyOpened
    | JoinRequested
    | RequestGone
    | PeerUpdated
    | PeerGone
    | PeerResumed
    | ChatReceived
    | LobbyInfoChanged
    | LobbyEnded
    | SignallingStatus
)


@dataclass(slots=True, eq=False)
class _Guest:
    connection_id: str
    name: str
    peer_id: int
    link: PeerLink
    handshake: asyncio.Task[None] | None = None
    signalling_lost: bool = False


class HostSession:
    """Hosts one lobby: join requests in, a WebRTC link per accepted guest out."""

    def __init__(
        self,
        signalling: SignallingClient,
        ice: IceSettings,
        *,
        auto_accept: bool = False,
        ping_interval: float = 2.0,
        handshake_timeout: float = 20.0,
    ) -> None:
        self.signalling = signalling
        self.ice = ice
        self.auto_accept = auto_accept
        self.lobby_id: str | None = None
        self._ping_interval = ping_interval
        self._handshake_timeout = handshake_timeout
        self._listeners: list[Callable[[HostEvent], None]] = []
        self._guests: dict[str, _Guest] = {}
        self._requests: dict[str, JoinRequested] = {}
        self._server_ice: list[dict[str, Any]] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._link_closes: set[asyncio.Task[None]] = set()
        signalling.add_listener(self._on_signal)

    # Public API -------------------------------------------------------------------------

    def add_listener(self, listener: Callable[[HostEvent], None]) -> None:
        self._listeners.append(listener)

    @property
    def requests(self) -> list[JoinRequested]:
        return list(self._requests.values())

    def peer(self, connection_id: str) -> LinkStats | None:
        guest = self._guests.get(connection_id)
        return guest.link.stats() if guest else None

    async def start(self, **options: Any) -> LobbyOpened:
        """Open a lobby (``name``, ``lobby_id``, ``max_guests``, ``password``, ``display_name``)."""
        reply = await self.signalling.request(
            "start_lobby", **{k: v for k, v in options.items() if v is not None}
        )
        content = reply["content"]
        self.lobby_id = content["lobby_id"]
        self._server_ice = list(content.get("ice_servers") or [])
        event = LobbyOpened(content["lobby_id"], content["connection_id"])
        self._emit(event)
        return event

    async def accept(self, connection_id: str) -> None:
        await self.signalling.request("accept_request", connection_id=connection_id)

    async def reject(self, connection_id: str, reason: str | None = None) -> None:
        content = {"connection_id": connection_id}
        if reason:
            content["reason"] = reason
        await self.signalling.request("reject_join_request", **content)

    async def kick(self, connection_id: str, reason: str | None = None) -> None:
        guest = self._guests.get(connection_id)
        content = {"connection_id": connection_id}
        if reason:
            content["reason"] = reason
        await self.signalling.request("kick_guest", **content)
        if guest is not None:
            await self._drop(guest, "kicked")

    async def set_open(self, is_open: bool) -> None:
        await self.signalling.request("set_lobby_open", open=is_open)

    async def lobby_info(self) -> dict[str, Any]:
        reply = await self.signalling.request("get_lobby_info")
        info: dict[str, Any] = reply["content"]
        return info

    def send_chat(self, text: str, to: str | None = None) -> None:
        """Chat over the ``lobby`` channel to one guest or to every connected guest."""
        for guest in self._guests.values():
            if to is None or guest.connection_id == to:
                guest.link.send_chat(text)

    def send_game(self, connection_id: str, data: str | bytes) -> None:
        guest = self._guests.get(connection_id)
        if guest is not None:
            guest.link.send_game(data)

    async def close(self, *, close_lobby: bool = True) -> None:
        """Close the lobby, say bye to every guest, close the signalling connection."""
        if close_lobby and self.lobby_id is not None and self.signalling.connected:
            with contextlib.suppress(NetError):
                await self.signalling.request("close_lobby")
        for guest in list(self._guests.values()):
            await self._drop(guest, "closed")
        # Let the links finish saying bye and closing; stop whatever else is left.
        if self._link_closes:
            await asyncio.wait(self._link_closes, timeout=_CLOSE_WAIT_S)
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.signalling.close()

    # Signalling events -------------------------------------------------------------------

    def _on_signal(self, event: str, content: dict[str, Any]) -> None:
        handler = getattr(self, f"_on_{event}", None)
        if handler is not None:
            handler(content)

    def _on_request_to_join(self, content: dict[str, Any]) -> None:
        request = JoinRequested(content["connection_id"], content["name"], time.time())
        self._requests[request.connection_id] = request
        self._emit(request)
        if self.auto_accept:
            self._spawn(self._auto_accept(request.connection_id))

    async def _auto_accept(self, connection_id: str) -> None:
        try:
            await self.accept(connection_id)
        except NetError as exc:
            logger.info("auto-accept of %s failed: %s", connection_id, exc)

    def _on_request_cancelled(self, content: dict[str, Any]) -> None:
        self._request_gone(content["connection_id"], "cancelled")

    def _on_request_removed(self, content: dict[str, Any]) -> None:
        self._request_gone(content["connection_id"], "removed")

    def _request_gone(self, connection_id: str, reason: str) -> None:
        if self._requests.pop(connection_id, None) is not None:
            self._emit(RequestGone(connection_id, reason))

    def _on_guest_accepted(self, content: dict[str, Any]) -> None:
        connection_id = content["connection_id"]
        self._requests.pop(connection_id, None)
        self._emit(RequestGone(connection_id, "accepted"))
        pc = RTCPeerConnection(self.ice.configuration(self._server_ice))
        link = PeerLink(pc, ping_interval=self._ping_interval)
        guest = _Guest(connection_id, content["name"], int(content["peer_id"]), link)
        self._guests[connection_id] = guest
        link.on_state = lambda _link: self._link_changed(guest)
        link.on_rtt = lambda _ms: self._link_changed(guest)
        link.on_chat = lambda text: self._emit(ChatReceived(guest.connection_id, guest.name, text))
        guest.handshake = self._spawn(self._offer(guest))
        self._link_changed(guest)

    async def _offer(self, guest: _Guest) -> None:
        link = guest.link

        def refused(error: ServerError) -> None:
            logger.info("the server refused signalling for %s: %s", guest.name, error)
            self._spawn(self._drop(guest, "failed"))

        try:
            link.open_channels()
            await link.pc.setLocalDescription(await link.pc.createOffer())
            description = link.pc.localDescription
            await self.signalling.send(
                "set_session_description",
                on_error=refused,
                connection_id=guest.connection_id,
                description={"type": description.type, "sdp": description.sdp},
            )
            # aiortc gathers every candidate into the offer: none to trickle.
            await self.signalling.send(
                "send_ice_candidate",
                on_error=refused,
                connection_id=guest.connection_id,
                candidate=None,
            )
            async with asyncio.timeout(self._handshake_timeout):
                await link.wait_open()
        except (TimeoutError, ConnectionError, NetError, ValueError) as exc:
            logger.info("handshake with %s failed: %s", guest.name, exc)
            if self._guests.get(guest.connection_id) is guest:
                await self._drop(guest, "failed")

    def _on_received_session_description(self, content: dict[str, Any]) -> None:
        guest = self._guests.get(content["connection_id"])
        description = content.get("description") or {}
        if guest is None or description.get("type") != "answer":
            return
        self._spawn(self._apply_answer(guest, description))

    async def _apply_answer(self, guest: _Guest, description: dict[str, Any]) -> None:
        try:
            await guest.link.set_remote_description("answer", str(description["sdp"]))
        except (ValueError, KeyError) as exc:
            logger.info("bad answer from %s: %s", guest.name, exc)
            await self._drop(guest, "failed")

    def _on_received_ice_candidate(self, content: dict[str, Any]) -> None:
        guest = self._guests.get(content["connection_id"])
        if guest is None:
            return
        self._spawn(self._add_candidate(guest, content.get("candidate")))

    async def _add_candidate(self, guest: _Guest, candidate: dict[str, Any] | None) -> None:
        try:
            await guest.link.add_remote_candidate(candidate)
        except (ValueError, KeyError) as exc:
            logger.info("ignoring a bad candidate from %s: %s", guest.name, exc)

    def _on_guest_left(self, content: dict[str, Any]) -> None:
        guest = self._guests.get(content["connection_id"])
        reason = content.get("reason", "left")
        if guest is None:
            return
        if reason == "disconnected" and guest.link.state is LinkState.CONNECTED:
            # Only its signalling dropped: the peer link carries on, and the
            # guest may resume; if the link dies too, its close removes it.
            guest.signalling_lost = True
            return
        self._spawn(self._drop(guest, reason))

    def _on_guest_resumed(self, content: dict[str, Any]) -> None:
        old = content["old_connection_id"]
        guest = self._guests.pop(old, None)
        if guest is not None:
            guest.connection_id = content["connection_id"]
            guest.signalling_lost = False
            self._guests[guest.connection_id] = guest
            self._emit(PeerResumed(old, guest.connection_id, guest.peer_id))
            self._link_changed(guest)

    def _on_lobby_info(self, content: dict[str, Any]) -> None:
        self._emit(LobbyInfoChanged(content))

    def _on_lobby_closed(self, content: dict[str, Any]) -> None:
        # Every guest goes because the lobby did, whoever's link notices first.
        for guest in list(self._guests.values()):
            self._forget(guest, "closed")
            task = self._spawn(guest.link.close(bye="closed"))
            self._link_closes.add(task)
            task.add_done_callback(self._link_closes.discard)
        self.lobby_id = None
        self._emit(LobbyEnded(content.get("reason", "closed")))

    def _on_connection_lost(self, content: dict[str, Any]) -> None:
        self._emit(SignallingStatus("lost"))

    def _on_resumed(self, content: dict[str, Any]) -> None:
        self._emit(SignallingStatus("restored"))

    def _on_resume_failed(self, content: dict[str, Any]) -> None:
        self._emit(SignallingStatus("failed"))

    def _on_connection_closed(self, content: dict[str, Any]) -> None:
        self._emit(SignallingStatus("failed"))

    # Peers --------------------------------------------------------------------------------

    def _link_changed(self, guest: _Guest) -> None:
        if self._guests.get(guest.connection_id) is not guest:
            return
        state = guest.link.state
        if state in (LinkState.FAILED, LinkState.CLOSED):
            reason = "failed" if state is LinkState.FAILED else (guest.link.bye_reason or "left")
            self._spawn(self._drop(guest, reason))
            return
        self._emit(PeerUpdated(guest.connection_id, guest.name, guest.peer_id, guest.link.stats()))

    async def _drop(self, guest: _Guest, reason: str) -> None:
        """Forget a guest (reporting ``reason`` once) and close its link."""
        if self._forget(guest, reason):
            await guest.link.close(bye=reason if reason in ("kicked", "closed") else None)

    def _forget(self, guest: _Guest, reason: str) -> bool:
        """Take a guest off the list and say why; ``False`` if it was gone already."""
        if self._guests.get(guest.connection_id) is not guest:
            return False
        del self._guests[guest.connection_id]
        if guest.handshake is not None and guest.handshake is not asyncio.current_task():
            guest.handshake.cancel()
        self._emit(PeerGone(guest.connection_id, guest.name, guest.peer_id, reason))
        return True

    # Plumbing -----------------------------------------------------------------------------

    def _spawn(self, coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _emit(self, event: HostEvent) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:
                logger.exception("a host listener failed on %s", type(event).__name__)


__all__ = [
    "ChatReceived",
    "HostEvent",
    "HostSession",
    "JoinRequested",
    "LobbyEnded",
    "LobbyInfoChanged",
    "LobbyOpened",
    "PeerError",
    "PeerGone",
    "PeerResumed",
    "PeerUpdated",
    "RequestGone",
    "SignallingStatus",
]
