"""The guest's session: ask to join by code, then answer the host's offer.

:class:`GuestSession` is Qt-free, like :class:`~lobbyhost_app.net.host.HostSession`.
It reports a :class:`GuestStatus` each time where things stand changes, and
chat and RTT as they come.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

from aiortc import RTCPeerConnection

from .errors import NetError, ServerError
from .ice import IceSettings
from .link import LinkState, PeerLink
from .signalling import SignallingClient

logger = logging.getLogger(__name__)
T = TypeVar("T")


class GuestPhase(enum.Enum):
    """Where a guest stands, in the words the UI shows."""

    IDLE = "idle"
    WAITING = "waiting"  # asked to join; the host decides
    CONNECTING = "connecting"  # accepted; WebRTC handshake under way
    CONNECTED = "connected"
    REJECTED = "rejected"
    HOST_AWAY = "host_away"  # the host dropped and may come back
    HOST_LEFT = "host_left"
    LOBBY_CLOSED = "lobby_closed"
    KICKED = "kicked"
    FAILED = "failed"
    LEFT = "left"


ENDED = frozenset(
    {
        GuestPhase.REJECTED,
        GuestPhase.HOST_LEFT,
        GuestPhase.LOBBY_CLOSED,
        GuestPhase.KICKED,
        GuestPhase.FAILED,
        GuestPhase.LEFT,
    }
)


@dataclass(frozen=True, slots=True)
class GuestStatus:
    phase: GuestPhase
    detail: str = ""  # a reason, a lobby name, an error sentence


@dataclass(frozen=True, slots=True)
class GuestChat:
    text: str


@dataclass(frozen=True, slots=True)
class GuestRtt:
    rtt_ms: float


GuestEvent = GuestStatus | GuestChat | GuestRtt


class GuestSession:
    """Joins one lobby and keeps the peer link to its host."""

    def __init__(
        self,
        signalling: SignallingClient,
        ice: IceSettings,
        *,
        ping_interval: float = 2.0,
        handshake_timeout: float = 20.0,
    ) -> None:
        self.signalling = signalling
        self.ice = ice
        self.status = GuestStatus(GuestPhase.IDLE)
        self.lobby_id: str | None = None
        self.lobby_name: str | None = None
        self.peer_id: int | None = None
        self.link: PeerLink | None = None
        self._host_id: str | None = None
        self._ice_servers: list[dict[str, Any]] = []
        self._ping_interval = ping_interval
        self._handshake_timeout = handshake_timeout
        self._listeners: list[Callable[[GuestEvent], None]] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._early_chat: list[str] = []
        self._ended = asyncio.get_running_loop().create_future()
        signalling.add_listener(self._on_signal)

    def add_listener(self, listener: Callable[[GuestEvent], None]) -> None:
        self._listeners.append(listener)

    async def join(self, lobby_id: str, name: str, password: str | None = None) -> None:
        """Ask to join; raises :class:`ServerError` (lobby not found, locked, full ...)."""
        content: dict[str, Any] = {"lobby_id": lobby_id, "name": name}
        if password:
            content["password"] = password
        try:
            reply = await self.signalling.request("join_lobby", **content)
        except ServerError as exc:
            self._set(GuestPhase.FAILED, str(exc))
            raise
        self.lobby_id = reply["content"]["lobby_id"]
        self.lobby_name = reply["content"]["name"]
        self._set(GuestPhase.WAITING, self.lobby_name or "")

    async def wait_ended(self) -> GuestStatus:
        """Until the session ends (rejected, kicked, closed, failed, left)."""
        return await asyncio.shield(self._ended)

    def send_chat(self, text: str) -> None:
        """Chat to the host; typed before the link exists, it goes once it opens."""
        if self.link is not None:
            self.link.send_chat(text)
        elif self.status.phase not in ENDED:
            self._early_chat.append(text)

    def send_game(self, data: str | bytes) -> None:
        if self.link is not None:
            self.link.send_game(data)

    async def leave(self) -> None:
        """Leave (or cancel the request) and close everything."""
        phase = self.status.phase
        with contextlib.suppress(NetError):
            if phase is GuestPhase.WAITING:
                await self.signalling.request("cancel_join")
            elif phase in (GuestPhase.CONNECTING, GuestPhase.CONNECTED, GuestPhase.HOST_AWAY):
                await self.signalling.request("leave_lobby")
        await self._end(GuestPhase.LEFT, "")
        await self.signalling.close()

    # Signalling events ------------------------------------------------------------------

    def _on_signal(self, event: str, content: dict[str, Any]) -> None:
        handler = getattr(self, f"_on_{event}", None)
        if handler is not None:
            handler(content)

    def _on_request_accepted(self, content: dict[str, Any]) -> None:
        self._host_id = content["host_connection_id"]
        self.peer_id = int(content["peer_id"])
        self._ice_servers = list(content.get("ice_servers") or [])
        self._set(GuestPhase.CONNECTING, "")
        pc = RTCPeerConnection(self.ice.configuration(self._ice_servers))
        self.link = link = PeerLink(pc, ping_interval=self._ping_interval)
        link.accept_channels()
        link.on_state = self._link_changed
        link.on_chat = lambda text: self._emit(GuestChat(text))
        link.on_rtt = lambda ms: self._emit(GuestRtt(ms))
        for text in self._early_chat:
            link.send_chat(text)
        self._early_chat.clear()
        self._spawn(self._watch_handshake(link))

    async def _watch_handshake(self, link: PeerLink) -> None:
        try:
            async with asyncio.timeout(self._handshake_timeout):
                await link.wait_open()
        except (TimeoutError, ConnectionError):
            if self.status.phase is GuestPhase.CONNECTING:
                await self._end(GuestPhase.FAILED, "the connection to the host could not be set up")

    def _on_received_session_description(self, content: dict[str, Any]) -> None:
        description = content.get("description") or {}
        if self.link is None or content["connection_id"] != self._host_id:
            return
        if description.get("type") == "offer":
            self._spawn(self._answer(self.link, str(description.get("sdp", ""))))

    async def _answer(self, link: PeerLink, sdp: str) -> None:
        try:
            await link.set_remote_description("offer", sdp)
            await link.pc.setLocalDescription(await link.pc.createAnswer())
            answer = link.pc.localDescription
            assert self._host_id is not None
            await self.signalling.send(
                "set_session_description",
                connection_id=self._host_id,
                description={"type": answer.type, "sdp": answer.sdp},
            )
            await self.signalling.send(
                "send_ice_candidate", connection_id=self._host_id, candidate=None
            )
        except (ValueError, NetError) as exc:
            await self._end(GuestPhase.FAILED, f"the host's offer could not be answered: {exc}")

    def _on_received_ice_candidate(self, content: dict[str, Any]) -> None:
        if self.link is not None and content["connection_id"] == self._host_id:
            self._spawn(self._add_candidate(self.link, content.get("candidate")))

    async def _add_candidate(self, link: PeerLink, candidate: dict[str, Any] | None) -> None:
        try:
            await link.add_remote_candidate(candidate)
        except (ValueError, KeyError) as exc:
            logger.info("ignoring a bad candidate from the host: %s", exc)

    def _on_request_rejected(self, content: dict[str, Any]) -> None:
        reason = content.get("reason", "")
        phase = GuestPhase.HOST_LEFT if reason == "host_left" else GuestPhase.REJECTED
        self._spawn(self._end(phase, reason))

    def _on_kicked(self, content: dict[str, Any]) -> None:
        self._spawn(self._end(GuestPhase.KICKED, content.get("reason", "")))

    def _on_lobby_closed(self, content: dict[str, Any]) -> None:
        reason = content.get("reason", "")
        phase = GuestPhase.HOST_LEFT if reason == "host_left" else GuestPhase.LOBBY_CLOSED
        self._spawn(self._end(phase, reason))

    def _on_host_disconnected(self, content: dict[str, Any]) -> None:
        if self.status.phase not in ENDED:
            self._set(GuestPhase.HOST_AWAY, f"{content.get('grace_s', 0):.0f}")

    def _on_host_resumed(self, content: dict[str, Any]) -> None:
        self._host_id = content["connection_id"]
        if self.status.phase is GuestPhase.HOST_AWAY:
            connected = self.link is not None and self.link.state is LinkState.CONNECTED
            self._set(GuestPhase.CONNECTED if connected else GuestPhase.CONNECTING, "")

    def _on_resume_failed(self, content: dict[str, Any]) -> None:
        if self.status.phase not in ENDED and self.status.phase is not GuestPhase.CONNECTED:
            self._spawn(self._end(GuestPhase.FAILED, "lost the connection to the server"))

    def _on_connection_closed(self, content: dict[str, Any]) -> None:
        self._on_resume_failed(content)

    # Link ------------------------------------------------------------------------------------

    def _link_changed(self, link: PeerLink) -> None:
        if link.state is LinkState.CONNECTED:
            self._set(GuestPhase.CONNECTED, "")
        elif link.state is LinkState.FAILED:
            self._spawn(self._end(GuestPhase.FAILED, "the connection to the host failed"))
        elif link.state is LinkState.CLOSED and self.status.phase not in ENDED:
            phase = {
                "kicked": GuestPhase.KICKED,
                "closed": GuestPhase.LOBBY_CLOSED,
            }.get(link.bye_reason or "", GuestPhase.HOST_LEFT)
            self._spawn(self._end(phase, link.bye_reason or "the host closed the connection"))

    async def _end(self, phase: GuestPhase, detail: str) -> None:
        if self.status.phase in ENDED:
            return
        self._set(phase, detail)
        if self.link is not None:
            await self.link.close(bye="left" if phase is GuestPhase.LEFT else None)
        if not self._ended.done():
            self._ended.set_result(self.status)

    def _set(self, phase: GuestPhase, detail: str) -> None:
        if self.status.phase in ENDED or self.status == GuestStatus(phase, detail):
            return
        self.status = GuestStatus(phase, detail)
        self._emit(self.status)

    def _spawn(self, coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _emit(self, event: GuestEvent) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:
                logger.exception("a guest listener failed on %s", type(event).__name__)
