"""The guest side of the app (Join mode): one :class:`GuestSession` at a time."""

from __future__ import annotations

import asyncio
import logging

from PySide6.QtCore import QObject, Signal

from signalling_server.protocol import Promoted

from ..errors import LobbyHostError
from ..invite import AddressError, parse_join_target
from ..net.guest import GuestSession
from ..net.relocation_messages import HostRequest
from ..net.signalling import SignallingClient
from ..session_values import (
    ENDED,
    GuestChat,
    GuestEvent,
    GuestPhase,
    GuestRtt,
    GuestStatus,
    HostChanged,
    Member,
    MemberChat,
    MembersChanged,
)
from .base import ControllerBase
from .game_ports import GuestPortsController
from .settings import Settings

logger = logging.getLogger(__name__)


class GuestController(ControllerBase):
    """Joins a lobby by server address and code, and keeps the link to its host.

    Signals:
        active_changed(bool): a join is under way or connected (``False`` once it ends)
        status_changed(GuestStatus)
        rtt_measured(float): milliseconds
        chat_received(str text): from the host
        member_chat_received(str name, str text): another guest's line, relayed by the host
        members_changed(tuple[Member, ...]): who is in the lobby (empty once out of it)
        promoted(GuestSession, Promoted, str server_url): the host left and this guest hosts
            the lobby now; emitted while the promotion is delivered (connect directly)
        host_requested(GuestSession, HostRequest): the host asks this guest to host its
            lobby on this app's own server (a planned hand-over with an embedded server)
        chat_sent(str text)
        message_logged(str)
        error_occurred(str)
    """

    active_changed = Signal(bool)
    status_changed = Signal(object)
    rtt_measured = Signal(float)
    chat_received = Signal(str)
    member_chat_received = Signal(str, str)
    members_changed = Signal(object)
    promoted = Signal(object, object, str)
    host_requested = Signal(object, object)
    chat_sent = Signal(str)
    message_logged = Signal(str)

    def __init__(self, settings: Settings, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.status = GuestStatus(GuestPhase.IDLE)
        self.lobby_name: str | None = None
        #: Who is in the lobby, as the host last listed it.
        self.members: tuple[Member, ...] = ()
        #: This guest's own peer id in the lobby, once accepted.
        self.peer_id: int | None = None
        self._session: GuestSession | None = None
        self._signalling: SignallingClient | None = None
        self._active = False
        self._leave_task: asyncio.Task[None] | None = None
        #: The local listeners for the host's game ports (the game bridge).
        self.game_ports = GuestPortsController(self)

    @property
    def active(self) -> bool:
        return self._active

    # Intents (called by views) -------------------------------------------------------------

    def join(self, server: str, code: str, name: str, password: str = "") -> asyncio.Task[None]:
        """Ask to join; ``server`` may be ``host:port``, a ``ws://`` URL or a whole invite link."""
        return self._spawn(self._join(server, code, name, password))

    def leave(self) -> asyncio.Task[None]:
        """Leave the lobby, or withdraw the request while waiting."""
        return self._spawn(self._finish_leaving())

    def send_chat(self, text: str) -> None:
        text = text.strip()
        if not text:
            return
        if self._session is None or self.status.phase in ENDED:
            self.error_occurred.emit("Join a lobby first to chat.")
            return
        self._session.send_chat(text)
        self.chat_sent.emit(text)

    async def shutdown(self) -> None:
        """Leave (telling the host) before the app quits; a join under way is cancelled."""
        await self._cancel_tasks()
        await self._finish_leaving()

    # Work ------------------------------------------------------------------------------------

    async def _join(self, server: str, code: str, name: str, password: str) -> None:
        if self._active:
            raise LobbyHostError("You are already in a lobby; leave it first.")
        target = parse_join_target(server)
        code = code.strip() or (target.code or "")
        if not code:
            raise AddressError("Enter the join code the host gave you.")
        settings = self.settings.load()
        name = name.strip() or settings.display_name
        ice = settings.ice_settings()
        self.settings.update(join_server_url=target.server_url, display_name=name)
        self._set_active(True)
        self.status = GuestStatus(GuestPhase.IDLE)
        self.lobby_name = None
        self.message_logged.emit(f"Connecting to {target.server_url}")
        try:
            self._signalling = signalling = SignallingClient(target.server_url)
            await signalling.connect()
            session = GuestSession(signalling, ice)
            session.add_listener(self._on_session_event)
            self.game_ports.attach(session)
            url = target.server_url
            session.on_promoted = lambda event: self._on_session_promoted(session, event, url)
            session.on_host_request = lambda request: self._on_session_host_request(
                session, request
            )
            self._session = session
            await session.join(code, name, password or None)
        except BaseException:
            await self._release()
            raise

    async def _finish_leaving(self) -> None:
        """Start leaving, or join the leave under way; cancelling the caller does not stop it."""
        if self._leave_task is None or self._leave_task.done():
            self._leave_task = asyncio.get_running_loop().create_task(self._leave())
        await asyncio.shield(self._leave_task)

    async def _leave(self) -> None:
        session = self._session
        if session is not None and session.status.phase not in ENDED:
            await session.leave()
        await self._release()

    async def _release(self) -> None:
        """Close the signalling connection and forget the session."""
        signalling, self._signalling = self._signalling, None
        self._session = None
        self.game_ports.attach(None)
        if signalling is not None:
            await signalling.close()
        self._set_members(())
        self._set_active(False)

    def _set_members(self, members: tuple[Member, ...]) -> None:
        if members != self.members:
            self.members = members
            self.members_changed.emit(members)

    def _set_active(self, active: bool) -> None:
        if active != self._active:
            self._active = active
            self.active_changed.emit(active)

    # Session events ----------------------------------------------------------------------------

    def _on_session_host_request(self, session: GuestSession, request: HostRequest) -> None:
        # The session hands its signalling connection back once it hosts elsewhere.
        self._signalling = None
        self.host_requested.emit(session, request)

    def _on_session_promoted(self, session: GuestSession, event: Promoted, url: str) -> None:
        # The signalling connection is the host's from now on: hand it over, never close it.
        self._signalling = None
        self.promoted.emit(session, event, url)

    def _on_session_event(self, event: GuestEvent) -> None:
        match event:
            case GuestRtt(rtt_ms=rtt_ms):
                self.rtt_measured.emit(rtt_ms)
            case GuestChat(text=text):
                self.chat_received.emit(text)
            case MemberChat(name=name, text=text):
                self.member_chat_received.emit(name, text)
            case HostChanged(name=name):
                self.message_logged.emit(f"The host left; {name} hosts the lobby now")
            case MembersChanged(members=members):
                if self._session is not None:
                    self.peer_id = self._session.peer_id
                self._set_members(members)
            case GuestStatus():
                self.status = event
                if self._session is not None and self._session.lobby_name:
                    self.lobby_name = self._session.lobby_name
                self.status_changed.emit(event)
                if event.phase in ENDED and self._session is not None:
                    # The session is over; its signalling connection has no more use.
                    self._spawn(self._release())
