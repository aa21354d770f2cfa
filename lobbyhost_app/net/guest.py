"""The guest's session: ask to join by code, then answer the host's offer.

:class:`GuestSession` is Qt-free, like :class:`~lobbyhost_app.net.host.HostSession`.
It reports a :class:`~lobbyhost_app.session_values.GuestStatus` each time where
things stand changes, and chat and RTT as they come. The phase a session ends
in comes from the server's reason codes (or the host's ``bye``), never from
the words a host typed: those are shown as they are, in the status's detail.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import msgspec
from aiortc import RTCPeerConnection

from signalling_server.protocol import (
    CancelJoin,
    CloseReason,
    HostDisconnected,
    HostMigrated,
    HostResumed,
    IceCandidate,
    IceServerInfo,
    JoinLobby,
    JoinRequested,
    Kicked,
    KickReason,
    LeaveLobby,
    LobbyClosed,
    LobbyMoved,
    Promoted,
    ReceivedIceCandidate,
    ReceivedMessage,
    ReceivedSessionDescription,
    RejectReason,
    RequestAccepted,
    RequestRejected,
    Resume,
    Resumed,
    SendIceCandidate,
    SetSessionDescription,
    decode_candidate,
    decode_description,
)

from ..session_values import (
    ENDED,
    UNREACHABLE_HINT,
    EndReason,
    GuestChat,
    GuestEvent,
    GuestPhase,
    GuestRtt,
    GuestStatus,
    HostChanged,
    LinkState,
    Member,
    MemberChat,
    MembersChanged,
)
from .channels import GameChannel, LobbyChannel
from .errors import NetError, ServerError
from .ice import IceSettings
from .link import END_OF_CANDIDATES, PeerLink
from .relocation_messages import HostRequest, read_host_request
from .signalling import SignallingClient
from .signalling_api import (
    ConnectionClosed,
    ResumeFailed,
    Signalling,
    SignallingEvent,
    expect_reply,
)

logger = logging.getLogger(__name__)
T = TypeVar("T")
GuestLinkListener = Callable[[PeerLink, LobbyChannel], None]

#: How long ending waits for an answer being made to finish before closing the link.
_CLOSE_WAIT_S = 5.0

#: What a ``bye`` from the host means when the server has not said (yet).
_BYE_ENDINGS: dict[str, tuple[GuestPhase, EndReason]] = {
    "kicked": (GuestPhase.KICKED, KickReason.KICKED_BY_HOST),
    "closed": (GuestPhase.LOBBY_CLOSED, CloseReason.CLOSED_BY_HOST),
}


class GuestSession:
    """Joins one lobby and keeps the peer link to its host."""

    def __init__(
        self,
        signalling: Signalling,
        ice: IceSettings,
        *,
        ping_interval: float = 2.0,
        handshake_timeout: float = 25.0,
        connect: Callable[[str], Signalling] | None = None,
    ) -> None:
        """``connect(url)`` makes the signalling connection to a server a lobby moves to.

        ``handshake_timeout`` is a little longer than the host's (20 s), so the host's
        verdict (``kicked{reason:"unreachable"}``) usually arrives first.
        """
        self.signalling = signalling
        self._connect = connect
        self.ice = ice
        self.status = GuestStatus(GuestPhase.IDLE)
        self.lobby_id: str | None = None
        self.lobby_name: str | None = None
        #: The name this guest joined with (its name as host, should it be promoted).
        self.name: str | None = None
        self.peer_id: int | None = None
        self.link: PeerLink | None = None
        self.lobby: LobbyChannel | None = None
        self.game: GameChannel | None = None
        #: Who is in the lobby, as the host last listed it (empty until it does).
        self.members: tuple[Member, ...] = ()
        #: Whether the lobby outlives its host (a guest then follows ``host_migrated``).
        self.migratable = False
        #: The server's ``promoted`` once this guest became the host (phase ``PROMOTED``).
        self.promotion: Promoted | None = None
        #: Called at once (inside the event's delivery) when this guest is made the host,
        #: so the app's host session listens before the next event arrives.
        self.on_promoted: Callable[[Promoted], None] | None = None
        #: Called with the host's request that this guest host the lobby on its own
        #: server (:mod:`lobbyhost_app.net.relocation`); unset: the request is ignored.
        self.on_host_request: Callable[[HostRequest], None] | None = None
        self._host_id: str | None = None
        self._ice_servers: list[IceServerInfo] = []
        self._ping_interval = ping_interval
        self._handshake_timeout = handshake_timeout
        self._listeners: list[Callable[[GuestEvent], None]] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._early_chat: list[str] = []
        self._answering: asyncio.Task[None] | None = None
        self._ended: asyncio.Future[GuestStatus] = asyncio.get_running_loop().create_future()
        self._link_listeners: list[GuestLinkListener] = []
        signalling.add_listener(self._on_signal)

    @property
    def host_connection_id(self) -> str | None:
        """The connection id of the lobby's host, once accepted."""
        return self._host_id

    def add_listener(self, listener: Callable[[GuestEvent], None]) -> None:
        self._listeners.append(listener)

    def add_link_listener(self, listener: GuestLinkListener) -> None:
        """Called with the link to the host and its ``lobby`` channel when they are made:
        how users of other channels, like the game bridge, join in."""
        self._link_listeners.append(listener)

    async def join(self, lobby_id: str, name: str, password: str | None = None) -> None:
        """Ask to join; raises :class:`ServerError` (lobby not found, locked, full ...)."""
        self.name = name
        action = JoinLobby(lobby_id=lobby_id, name=name, password=password or None)
        try:
            reply = expect_reply(await self.signalling.request(action), JoinRequested, action)
        except ServerError as exc:
            self._set(GuestStatus(GuestPhase.FAILED, str(exc)))
            raise
        self.lobby_id = reply.lobby_id
        self.lobby_name = reply.name
        # The reply's frame may have come in one read with request_accepted (an
        # auto-accepting host): then the session is past waiting already.
        if self.status.phase is GuestPhase.IDLE:
            self._set(GuestStatus(GuestPhase.WAITING, reply.name))

    async def wait_ended(self) -> GuestStatus:
        """Until the session ends (rejected, kicked, closed, failed, left)."""
        return await asyncio.shield(self._ended)

    def send_chat(self, text: str) -> None:
        """Chat to the host; typed before the link exists, it goes once it opens."""
        if self.lobby is not None:
            self.lobby.send_chat(text)
        elif self.status.phase not in ENDED:
            self._early_chat.append(text)

    def send_game(self, data: str | bytes) -> None:
        if self.game is not None:
            self.game.send(data)

    async def leave(self) -> None:
        """Leave (or cancel the request) and close everything."""
        phase = self.status.phase
        with contextlib.suppress(NetError):
            if phase is GuestPhase.WAITING:
                await self.signalling.request(CancelJoin())
            elif phase in (GuestPhase.CONNECTING, GuestPhase.CONNECTED, GuestPhase.HOST_AWAY):
                await self.signalling.request(LeaveLobby())
        await self._end(GuestStatus(GuestPhase.LEFT))
        await self.signalling.close()

    # Signalling events ------------------------------------------------------------------

    def _on_signal(self, event: SignallingEvent) -> None:
        match event:
            case RequestAccepted():
                self._accepted(event)
            case ReceivedSessionDescription(connection_id=sender) if sender == self._host_id:
                self._received_description(event)
            case ReceivedIceCandidate(connection_id=sender) if sender == self._host_id:
                self._received_candidate(event)
            case RequestRejected(reason=reason, message=message):
                left = reason is RejectReason.HOST_LEFT
                phase = GuestPhase.HOST_LEFT if left else GuestPhase.REJECTED
                self._spawn(self._end(GuestStatus(phase, message or "", reason)))
            case Kicked(reason=KickReason.UNREACHABLE):
                unreachable = GuestStatus(
                    GuestPhase.FAILED, UNREACHABLE_HINT, KickReason.UNREACHABLE
                )
                self._spawn(self._end(unreachable))
            case Kicked(reason=reason, message=message):
                self._spawn(self._end(GuestStatus(GuestPhase.KICKED, message or "", reason)))
            case LobbyClosed(reason=reason):
                left = reason is CloseReason.HOST_LEFT
                phase = GuestPhase.HOST_LEFT if left else GuestPhase.LOBBY_CLOSED
                self._spawn(self._end(GuestStatus(phase, "", reason)))
            case HostDisconnected(grace_s=grace_s):
                if self.status.phase not in ENDED:
                    self._set(GuestStatus(GuestPhase.HOST_AWAY, f"{grace_s:.0f}"))
            case HostResumed(connection_id=connection_id):
                self._host_resumed(connection_id)
            case Promoted():
                self._promoted(event)
            case HostMigrated(host_connection_id=host_id, name=name, peer_id=peer_id):
                if host_id != self.signalling.connection_id and self.link is not None:
                    self._emit(HostChanged(name, peer_id))
                    self._follow_host(host_id)
            case ReceivedMessage(connection_id=sender, data=data) if sender == self._host_id:
                request = read_host_request(data)
                if request is not None and self.on_host_request is not None:
                    self.on_host_request(request)
            case LobbyMoved(url=url, token=token):
                if self.link is not None and self.status.phase not in ENDED:
                    self._spawn(self._move(url, token))
            case Resumed(host_connection_id=host_id) if host_id and host_id != self._host_id:
                # The host changed while this guest was away (or the lobby moved to
                # another server): connect to the new one, before its offer comes.
                if self.peer_id is not None and self.status.phase not in ENDED:
                    self._follow_host(host_id)
            case ResumeFailed() | ConnectionClosed():
                if self.status.phase not in ENDED and self.status.phase is not GuestPhase.CONNECTED:
                    failed = GuestStatus(GuestPhase.FAILED, "lost the connection to the server")
                    self._spawn(self._end(failed))
            case _:
                pass

    def _accepted(self, event: RequestAccepted) -> None:
        self._host_id = event.host_connection_id
        self.peer_id = event.peer_id
        self.migratable = event.migratable
        self._ice_servers = list(event.ice_servers)
        self._set(GuestStatus(GuestPhase.CONNECTING))
        self._open_link()

    def _open_link(self) -> None:
        """A fresh peer link that waits for the host's offer."""
        self.link = link = PeerLink(
            RTCPeerConnection(self.ice.configuration(self._ice_servers)),
            relay_delay_s=self.ice.relay_delay_s,
        )
        self.lobby = lobby = LobbyChannel(link, ping_interval=self._ping_interval)
        self.game = GameChannel(link)
        link.add_state_listener(self._link_changed)
        lobby.on_chat = lambda text: self._emit(GuestChat(text))
        lobby.on_member_chat = lambda name, peer, text: self._emit(MemberChat(name, peer, text))
        lobby.on_members = self._members_listed
        lobby.on_rtt = lambda ms: self._emit(GuestRtt(ms))
        for link_listener in list(self._link_listeners):
            link_listener(link, lobby)
        link.accept_channels()
        for text in self._early_chat:
            lobby.send_chat(text)
        self._early_chat.clear()
        self._spawn(self._watch_handshake(link))

    def _follow_host(self, host_id: str) -> None:
        """A new host: drop the link to the old one and wait for the new one's offer."""
        self._host_id = host_id
        self._spawn(self._close_link(self.link, self.lobby))
        self._open_link()
        self._set(GuestStatus(GuestPhase.CONNECTING))

    async def _move(self, url: str, token: str) -> None:
        """The lobby moved to another server: take the place kept there and wait for its host."""
        old = self.signalling
        old.remove_listener(self._on_signal)
        # The link to the old host is over; its bye must not end this session.
        self._spawn(self._close_link(self.link, self.lobby))
        self.link = self.lobby = None
        self._set(GuestStatus(GuestPhase.HOST_AWAY, "moving"))
        try:
            new = self._connect(url) if self._connect is not None else SignallingClient(url)
            await new.connect()
            new.add_listener(self._on_signal)
            self.signalling = new
            await old.close()
            action = Resume(token=token)
            resumed = expect_reply(await new.request(action), Resumed, action)
        except NetError as exc:
            await self._end(GuestStatus(GuestPhase.FAILED, f"could not follow the lobby: {exc}"))
            return
        host_id = resumed.host_connection_id
        if host_id is not None and host_id != self._host_id:
            self._follow_host(host_id)  # normally done as ``resumed`` arrived

    def hosts_elsewhere(self) -> None:
        """This guest hosts the lobby on its own server now: its guest session ends."""
        self.signalling.remove_listener(self._on_signal)
        self._set(GuestStatus(GuestPhase.PROMOTED))
        self._spawn(self._close_link(self.link, self.lobby))
        if not self._ended.done():
            self._ended.set_result(self.status)

    def _promoted(self, event: Promoted) -> None:
        """This guest hosts the lobby now: its guest session ends, the app's host session begins."""
        if self.status.phase in ENDED:
            return
        self.promotion = event
        self.signalling.remove_listener(self._on_signal)
        self._set(GuestStatus(GuestPhase.PROMOTED))
        if self.on_promoted is not None:
            try:
                self.on_promoted(event)
            except Exception:
                logger.exception("taking over as host failed")
        self._spawn(self._close_link(self.link, self.lobby))
        if not self._ended.done():
            self._ended.set_result(self.status)

    @staticmethod
    async def _close_link(link: PeerLink | None, lobby: LobbyChannel | None) -> None:
        if lobby is not None:
            await lobby.close()
        if link is not None:
            await link.close()

    def _members_listed(self, members: tuple[Member, ...]) -> None:
        if self.status.phase not in ENDED:
            self.members = members
            self._emit(MembersChanged(members))

    async def _watch_handshake(self, link: PeerLink) -> None:
        try:
            async with asyncio.timeout(self._handshake_timeout):
                await link.wait_open()
        except (TimeoutError, ConnectionError):
            if link is self.link and self.status.phase is GuestPhase.CONNECTING:
                failed = f"the connection to the host could not be set up: {UNREACHABLE_HINT}"
                await self._end(GuestStatus(GuestPhase.FAILED, failed))

    def _received_description(self, event: ReceivedSessionDescription) -> None:
        if self.link is None:
            return
        try:
            description = decode_description(event.description)
        except msgspec.ValidationError as exc:
            logger.info("ignoring a bad description from the host: %s", exc)
            return
        if description.type == "offer":
            self._answering = self._spawn(self._answer(self.link, description.sdp))

    async def _answer(self, link: PeerLink, sdp: str) -> None:
        host_id = self._host_id
        assert host_id is not None  # set with the link
        try:
            await link.set_remote_description("offer", sdp)
            await link.pc.setLocalDescription(await link.pc.createAnswer())
            if self.status.phase in ENDED:
                return  # ended while gathering (the host gave up, say): nobody to answer
            answer = link.local_description()
            await self.signalling.send(
                SetSessionDescription(connection_id=host_id, description=answer)
            )
            await self.signalling.send(
                SendIceCandidate(connection_id=host_id, candidate=END_OF_CANDIDATES)
            )
        except (ValueError, NetError) as exc:  # msgspec.ValidationError is a ValueError
            failed = f"the host's offer could not be answered: {exc}"
            await self._end(GuestStatus(GuestPhase.FAILED, failed))

    def _received_candidate(self, event: ReceivedIceCandidate) -> None:
        if self.link is None:
            return
        try:
            candidate = decode_candidate(event.candidate)
        except msgspec.ValidationError as exc:
            logger.info("ignoring a bad candidate from the host: %s", exc)
            return
        self._spawn(self._add_candidate(self.link, candidate))

    async def _add_candidate(self, link: PeerLink, candidate: IceCandidate | None) -> None:
        try:
            await link.add_remote_candidate(candidate)
        except ValueError as exc:
            logger.info("ignoring a bad candidate from the host: %s", exc)

    def _host_resumed(self, connection_id: str) -> None:
        self._host_id = connection_id
        if self.status.phase is GuestPhase.HOST_AWAY:
            connected = self.link is not None and self.link.state is LinkState.CONNECTED
            phase = GuestPhase.CONNECTED if connected else GuestPhase.CONNECTING
            self._set(GuestStatus(phase))

    # Link ------------------------------------------------------------------------------------

    def _link_changed(self, link: PeerLink) -> None:
        if link is not self.link:
            return  # the link to a host the lobby no longer has
        if self._waits_for_next_host(link):
            if self.status.phase not in ENDED:
                self._set(GuestStatus(GuestPhase.HOST_AWAY, self.status.detail))
            return
        if link.state is LinkState.CONNECTED:
            self._set(GuestStatus(GuestPhase.CONNECTED))
        elif link.state is LinkState.FAILED:
            failed = GuestStatus(GuestPhase.FAILED, "the connection to the host failed")
            self._spawn(self._end(failed))
        elif link.state is LinkState.CLOSED and self.status.phase not in ENDED:
            phase, reason = _BYE_ENDINGS.get(
                link.bye_reason or "", (GuestPhase.HOST_LEFT, CloseReason.HOST_LEFT)
            )
            self._spawn(self._end(GuestStatus(phase, "", reason)))

    def _waits_for_next_host(self, link: PeerLink) -> bool:
        """Whether a dead link only means the host is leaving a migratable lobby."""
        if not self.migratable or link.state not in (LinkState.FAILED, LinkState.CLOSED):
            return False
        return link.bye_reason == "handed_over" or self.status.phase is GuestPhase.HOST_AWAY

    async def _end(self, status: GuestStatus) -> None:
        if self.status.phase in ENDED:
            return
        self._set(status)
        answering = self._answering
        if answering is not None and answering is not asyncio.current_task():
            # Closing the peer connection while aiortc gathers candidates leaks the
            # sockets gathered after the close: let the answer finish first.
            await asyncio.wait({answering}, timeout=_CLOSE_WAIT_S)
        if self.lobby is not None:
            await self.lobby.close(bye="left" if status.phase is GuestPhase.LEFT else None)
        if self.link is not None:
            await self.link.close()
        if not self._ended.done():
            self._ended.set_result(self.status)

    def _set(self, status: GuestStatus) -> None:
        if self.status.phase in ENDED or self.status == status:
            return
        self.status = status
        self._emit(status)

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


__all__ = [
    "ENDED",
    "GuestChat",
    "GuestEvent",
    "GuestPhase",
    "GuestRtt",
    "GuestSession",
    "GuestStatus",
    "HostChanged",
    "Member",
    "MemberChat",
    "MembersChanged",
]
