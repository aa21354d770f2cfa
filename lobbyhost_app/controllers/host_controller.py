"""The host side of the app: the embedded server, one lobby, its requests and peers.

:class:`HostController` owns a :class:`~lobbyhost_app.net.hosting.HostingService`
(the embedded signalling server unless a remote server is configured, the
signalling client and the host session), turns its events into Qt signals and
the models' rows, and turns the user's clicks into session calls.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from PySide6.QtCore import QObject, QTimer, Signal

from signalling_server import Limits, SignallingServer, Timeouts
from signalling_server.protocol import Promoted

from ..errors import LobbyHostError
from ..invite import (
    listening_sentence,
    normalize_server_url,
    remote_invite_link,
)
from ..invite_address import Reach, interface_addresses, router_invite_address
from ..models.join_requests import JoinRequestsModel
from ..models.peers import PeerTableModel
from ..net.errors import ListenError
from ..net.game_ports import HostGamePorts
from ..net.guest import GuestSession
from ..net.host import HostSession
from ..net.hosting import HANDSHAKE_TIMEOUT_S, HostingOptions, HostingService
from ..net.ice import local_addresses
from ..net.migration import take_over
from ..net.port_mapping import PortMappingOptions, PortMappingState, PortMappingStatus
from ..net.relocation import host_moved_lobby, move_to_successor
from ..net.relocation_messages import HostRequest
from ..session_values import (
    ChatReceived,
    HostEvent,
    HostState,
    JoinRequested,
    LinkState,
    LobbyEnded,
    LobbyHandedOver,
    LobbyInfoChanged,
    LobbyOpened,
    PeerConnectionLost,
    PeerGone,
    PeerResumed,
    PeerUpdated,
    RequestGone,
    SignallingStatus,
    SnapshotLoaded,
    SnapshotStored,
)
from .base import ControllerBase, listen_error_message
from .game_ports import HostGamePortsController
from .invite_controller import InviteController
from .settings import AppSettings, Settings

logger = logging.getLogger(__name__)

#: How often pending peer updates reach the peers model.
PEER_FLUSH_MS = 250

_GONE_WORDS = {
    "left": "left",
    "kicked": "was kicked",
    "disconnected": "lost the connection",
    "lost": "lost the connection",
    "failed": "could not be reached (no network path worked; its seat is free again)",
    "closed": "was disconnected (lobby closed)",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class HostOverrides:
    """What ``lobbyhost`` was started with: used for this run's lobbies, never saved.

    ``None`` (or ``False``) keeps the saved setting.
    """

    listen: tuple[str, int] | None = None
    display_name: str | None = None
    code: str | None = None
    #: Auto-accept on, for every lobby of this run.
    auto_accept: bool = False

    def apply(self, settings: AppSettings) -> AppSettings:
        """``settings`` with these choices in place."""
        if self.listen is not None:
            host, port = self.listen
            settings = dataclasses.replace(
                settings, listen_host=host, listen_port=port, use_remote_server=False
            )
        if self.display_name:
            settings = dataclasses.replace(settings, display_name=self.display_name)
        return settings


class HostController(ControllerBase):
    """Hosts one lobby at a time.

    Auto-accept starts off for every new lobby (and a new run) unless the host
    pinned it on in Settings or started the app with ``--auto-accept``.

    Signals:
        state_changed(HostState)
        lobby_opened(str code, str invite_link)
        lobby_closed(str reason)
        request_added(JoinRequested)
        request_removed(str connection_id, str reason)
        decision_failed(str connection_id): accepting or rejecting it failed
        peers_updated(list[PeerUpdated]): batched, at most every ``PEER_FLUSH_MS``
        peer_left(str connection_id, str name, str reason)
        peer_connection_lost(PeerConnectionLost): a guest dropped and may still come back
        peer_resumed(PeerResumed): a guest whose connection dropped is back
        chat_received(str name, str text)
        chat_sent(str text)
        lobby_info_changed(LobbyInfo)
        snapshot_stored(SnapshotStored | SnapshotLoaded): the latest game-state snapshot
        port_mapping_changed(PortMappingState): the router's answer about the server's port
        message_logged(str): a lobby event in words, for the log panel
        error_occurred(str)

    Models: ``requests`` (:class:`JoinRequestsModel`), ``peers`` (:class:`PeerTableModel`).
    """

    state_changed = Signal(object)
    lobby_opened = Signal(str, str)
    lobby_closed = Signal(str)
    request_added = Signal(object)
    request_removed = Signal(str, str)
    decision_failed = Signal(str)
    peers_updated = Signal(list)
    peer_left = Signal(str, str, str)
    peer_connection_lost = Signal(object)
    peer_resumed = Signal(object)
    chat_received = Signal(str, str)
    chat_sent = Signal(str)
    lobby_info_changed = Signal(object)
    snapshot_stored = Signal(object)
    port_mapping_changed = Signal(object)
    message_logged = Signal(str)

    def __init__(
        self,
        settings: Settings,
        parent: QObject | None = None,
        *,
        overrides: HostOverrides | None = None,
    ) -> None:
        super().__init__(parent)
        self.settings = settings
        self.overrides = overrides or HostOverrides()
        self.requests = JoinRequestsModel(self)
        self.peers = PeerTableModel(self)
        #: The game ports shared with every guest (the game bridge).
        self.game_ports = HostGamePortsController(settings, self)
        self.state = HostState.IDLE
        self.code: str | None = None
        self.invite_link: str | None = None
        #: The embedded server's websocket URL while it runs.
        self.server_url: str | None = None
        #: Limits of the embedded server (protocol.md's defaults unless changed).
        self.server_limits = Limits()
        #: Timers of the embedded server (grace periods, request timeout): protocol.md's defaults.
        self.server_timeouts = Timeouts()
        #: Seconds a guest's link may take to open before it is dropped as unreachable.
        self.handshake_timeout = HANDSHAKE_TIMEOUT_S
        #: Ask the router to forward the embedded server's port (``None``: don't).
        self.port_mapping: PortMappingOptions | None = PortMappingOptions()
        #: The router's latest answer about the server's port (its external
        #: address is one source for the invite link); ``None`` until asked.
        self.port_mapping_state: PortMappingState | None = None
        self._hosting: HostingService | None = None
        self._session: HostSession | None = None
        self._close_task: asyncio.Task[None] | None = None
        self._listen: tuple[str, int] | None = None
        #: The server of a lobby this app took over as a promoted guest.
        self._adopted_server_url: str | None = None
        #: Whether the open lobby lets a guest take over, and what it was opened with.
        self.migratable = False
        self._opened_with: tuple[str, int] = ("", 8)
        self._request_names: dict[str, str] = {}
        self._connected: set[int] = set()
        self._pending: dict[int, PeerUpdated] = {}
        self._flush_timer = QTimer(self)
        self._flush_timer.setSingleShot(True)
        self._flush_timer.setInterval(PEER_FLUSH_MS)
        #: The invite link's address: choices, the one in use, the public one by STUN.
        self.invite = InviteController(self)
        self._connect_signals()
        self._reset_auto_accept()

    def _connect_signals(self) -> None:
        self._flush_timer.timeout.connect(self._on_flush_timer_timeout)
        self.request_added.connect(self.requests.add_request)
        self.request_removed.connect(self._on_self_request_removed)
        self.peers_updated.connect(self.peers.apply_updates)
        self.peer_left.connect(self._on_self_peer_left)
        self.peer_connection_lost.connect(self._on_self_peer_connection_lost)
        self.peer_resumed.connect(self._on_self_peer_resumed)
        self.lobby_closed.connect(self._on_self_lobby_closed)
        self.invite.link_changed.connect(self._on_invite_link_changed)
        self.invite.discovery_failed.connect(self._on_invite_discovery_failed)

    @property
    def embedded_server(self) -> SignallingServer | None:
        """The embedded signalling server while it runs (``None`` with a remote server)."""
        return self._hosting.server if self._hosting is not None else None

    # Intents (called by views) ----------------------------------------------------------

    def open_lobby(
        self, *, password: str = "", max_guests: int | None = None, migratable: bool = False
    ) -> asyncio.Task[None]:
        """Start the server (unless remote) and open a lobby; ``lobby_opened`` when done.

        With ``migratable`` a guest takes the lobby over when this host leaves.
        """
        return self._spawn(self._open(password, max_guests, migratable))

    def hand_over(self) -> asyncio.Task[None]:
        """Give the lobby to the earliest-accepted connected guest and stop hosting.

        With the embedded server (which stops with this lobby) the lobby moves
        to the guest's own server; the guest's app must be able to host.
        """
        return self._spawn(self._hand_over())

    def take_moved_lobby(self, guest: GuestSession, request: HostRequest) -> asyncio.Task[None]:
        """Host a lobby its host moves here, on this app's own embedded server."""
        return self._spawn(self._take_moved_lobby(guest, request))

    def take_over(self, guest: GuestSession, promoted: Promoted, server_url: str) -> None:
        """Host the lobby this app's guest session was just promoted in (on ``server_url``).

        Called while the promotion is delivered, so the host session listens
        before the next event arrives; ``lobby_opened`` follows at once.
        """
        if self.state is not HostState.IDLE:
            self.error_occurred.emit(
                "You were made the host of the lobby you joined, but this window already "
                "hosts a lobby; the guests there will wait for a host."
            )
            return
        self._set_state(HostState.STARTING)
        self.migratable = True
        self._adopted_server_url = server_url
        settings = self.settings.load()
        self.message_logged.emit("The host left: you host this lobby now")

        def attach(session: HostSession) -> None:
            self._session = session
            session.add_listener(self._on_session_event)
            # The Host tab's game ports are shared from the start, as when hosting anew.
            self.game_ports.attach(HostGamePorts(session, self.game_ports.shared))

        take_over(guest, promoted, attach=attach, auto_accept=settings.auto_accept)

    def close_lobby(self) -> asyncio.Task[None]:
        """Close the lobby (guests are told), stop the embedded server."""
        return self._spawn(self._finish_closing(close_lobby=True, reason="closed_by_host"))

    def accept(self, connection_id: str) -> asyncio.Task[None]:
        return self._spawn(self._decide(connection_id, lambda s: s.accept(connection_id)))

    def reject(self, connection_id: str, reason: str = "") -> asyncio.Task[None]:
        """Turn a request down; ``reason`` (optional) is shown to the guest."""
        reason = reason.strip()
        return self._spawn(self._decide(connection_id, lambda s: s.reject(connection_id, reason)))

    def kick(
        self, connection_id: str, message: str = "", *, block: bool = False
    ) -> asyncio.Task[None]:
        """Remove a guest; ``message`` (optional) is shown to it; ``block`` keeps it out."""
        message = message.strip()
        return self._spawn(self._kick(connection_id, message, block))

    def set_locked(self, locked: bool) -> asyncio.Task[None]:
        """Lock (no new join requests) or unlock the lobby."""
        return self._spawn(self._set_locked(locked))

    def set_auto_accept(self, enabled: bool) -> None:
        """Accept every request from now on (the waiting ones too); saved in the settings."""
        if self.settings.load().auto_accept != enabled:
            self.settings.update(auto_accept=enabled)
        session = self._session
        if session is None:
            return
        session.auto_accept = enabled
        if enabled:
            for request in session.requests:
                self._spawn(session.accept(request.connection_id))

    def send_chat(self, text: str) -> None:
        """Chat to every connected guest."""
        text = text.strip()
        if not text:
            return
        session = self._session
        if session is None or not self._connected:
            self.error_occurred.emit("No guest is connected to chat with yet.")
            return
        session.send_chat(text)
        self.chat_sent.emit(text)

    async def shutdown(self) -> None:
        """Close everything before the app quits; guests are told the lobby closed.

        Work under way (an accept, a lobby still opening) is cancelled; a close
        under way is not, it is waited for.
        """
        await self._cancel_tasks()
        await self._finish_closing(close_lobby=True, reason="closed_by_host")

    # Opening and closing ------------------------------------------------------------------------

    async def _open(self, password: str, max_guests: int | None, migratable: bool) -> None:
        if self.state is not HostState.IDLE:
            raise LobbyHostError("A lobby is already open; close it first.")
        settings = self.settings.load()
        if max_guests is not None and max_guests != settings.max_guests:
            settings = self.settings.update(max_guests=max_guests)
        settings = self.overrides.apply(settings)
        self._set_state(HostState.STARTING)
        self.port_mapping_state = None
        try:
            options = HostingOptions(
                listen_host=settings.listen_host,
                listen_port=settings.listen_port,
                remote_url=(
                    normalize_server_url(settings.remote_server_url)
                    if settings.use_remote_server
                    else None
                ),
                limits=self.server_limits,
                timeouts=self.server_timeouts,
                ice=settings.ice_settings(),
                turn_secrets=settings.turn_secrets(),
                auto_accept=settings.auto_accept,
                forwards=self.game_ports.shared,
                handshake_timeout=self.handshake_timeout,
                port_mapping=self.port_mapping,
            )
            self._hosting = hosting = HostingService(options)
            hosting.add_listener(self._on_session_event)
            hosting.add_port_mapping_listener(self._on_port_mapping)
            if options.remote_url is not None:
                self.message_logged.emit(f"Connecting to {options.remote_url}")
            await self._start(hosting)
            self._session = hosting.session
            self.game_ports.attach(hosting.game_ports)
            self.migratable = migratable
            await hosting.open_lobby(
                name=settings.lobby_name(),
                lobby_id=self.overrides.code,
                display_name=settings.display_name,
                max_guests=max_guests,
                password=password or None,
                migratable=migratable,
            )
            self._opened_with = (settings.lobby_name(), max_guests or settings.max_guests)
        except BaseException:
            await self._release()
            self._set_state(HostState.IDLE)
            raise

    async def _hand_over(self) -> None:
        session = self._session
        if session is None or self.state is not HostState.OPEN:
            raise LobbyHostError("No lobby is open.")
        if not self.migratable:
            raise LobbyHostError("This lobby was opened without letting a guest take over.")
        roster = session.roster()
        if not roster:
            raise LobbyHostError("No guest is connected to take the lobby over.")
        successor, name, _ = roster[0]
        self.message_logged.emit(f"Handing the lobby over to {name}…")
        if self.embedded_server is None:
            await session.hand_over(successor)
            return
        name_of_lobby, max_guests = self._opened_with
        await move_to_successor(session, successor, lobby_name=name_of_lobby, max_guests=max_guests)

    async def _take_moved_lobby(self, guest: GuestSession, request: HostRequest) -> None:
        if self.state is not HostState.IDLE:
            raise LobbyHostError(
                "The host asked you to take its lobby over, but this window already hosts one."
            )
        settings = self.overrides.apply(self.settings.load())
        self._set_state(HostState.STARTING)
        options = HostingOptions(
            listen_host=settings.listen_host,
            listen_port=settings.listen_port,
            limits=self.server_limits,
            timeouts=self.server_timeouts,
            ice=settings.ice_settings(),
            auto_accept=settings.auto_accept,
            forwards=self.game_ports.shared,
        )

        def attach(hosting: HostingService) -> None:
            self._hosting = hosting
            hosting.add_listener(self._on_session_event)

        self.migratable = True
        try:
            hosting = await host_moved_lobby(guest, request, options, attach=attach)
        except BaseException:
            await self._release()
            self._set_state(HostState.IDLE)
            raise
        self._session = hosting.session
        self.game_ports.attach(hosting.game_ports)
        self._opened_with = (request.name, request.max_guests)

    async def _start(self, hosting: HostingService) -> None:
        """Start the server (unless remote) and the session; a busy port is a sentence."""
        try:
            await hosting.start()
        except ListenError as exc:
            raise LobbyHostError(listen_error_message(exc.error, exc.host, exc.port)) from exc
        if hosting.server is not None:
            self._listen = hosting.listen
            self.server_url = hosting.server.url
            host, port = hosting.listen or (hosting.options.listen_host, hosting.server.port)
            self.message_logged.emit(listening_sentence(host, port, local_addresses()))

    async def _finish_closing(self, *, close_lobby: bool, reason: str) -> None:
        """Start closing, or join the close under way; cancelling the caller does not stop it."""
        if self._close_task is None or self._close_task.done():
            self._close_task = asyncio.get_running_loop().create_task(
                self._close(close_lobby=close_lobby, reason=reason)
            )
        await asyncio.shield(self._close_task)

    async def _close(self, *, close_lobby: bool, reason: str) -> None:
        if self.state in (HostState.IDLE, HostState.CLOSING):
            return
        self._set_state(HostState.CLOSING)
        try:
            await self._release(close_lobby=close_lobby)
        finally:
            self._set_state(HostState.IDLE)
            self.lobby_closed.emit(reason)

    async def _release(self, *, close_lobby: bool = False) -> None:
        """Stop hosting: the session, its signalling connection, the embedded server."""
        hosting, self._hosting = self._hosting, None
        session, self._session = self._session, None
        self.game_ports.attach(None)
        self._flush_timer.stop()
        self._pending.clear()
        try:
            if hosting is not None:
                await hosting.stop(close_lobby=close_lobby)
            elif session is not None:  # a lobby taken over: no hosting service of its own
                await session.close(close_lobby=close_lobby)
        finally:
            self.server_url = None
            self._listen = None
            self._adopted_server_url = None

    async def _kick(self, connection_id: str, message: str, block: bool) -> None:
        peer = self.peers.peer_of(connection_id)
        await self._call(lambda session: session.kick(connection_id, message, block=block))
        if block:
            name = peer.name if peer is not None else "The guest"
            self.message_logged.emit(f"{name} may not join this lobby again (blocked)")

    async def _set_locked(self, locked: bool) -> None:
        await self._call(lambda session: session.set_open(not locked))
        if locked:
            self.message_logged.emit("Lobby locked: nobody new can ask to join")
        else:
            self.message_logged.emit("Lobby unlocked: people can ask to join again")

    async def _decide(
        self, connection_id: str, action: Callable[[HostSession], Awaitable[None]]
    ) -> None:
        try:
            await self._call(action)
        except LobbyHostError:
            self.decision_failed.emit(connection_id)
            raise

    async def _call(self, action: Callable[[HostSession], Awaitable[None]]) -> None:
        if self._session is None or self.state is not HostState.OPEN:
            raise LobbyHostError("No lobby is open.")
        await action(self._session)

    def _set_state(self, state: HostState) -> None:
        if state is not self.state:
            self.state = state
            self.state_changed.emit(state)

    # Session events ----------------------------------------------------------------------------

    def _on_session_event(self, event: HostEvent) -> None:
        match event:
            case PeerUpdated():
                self._peer_updated(event)
            case JoinRequested(connection_id=connection_id, name=name):
                self._request_names[connection_id] = name
                self.message_logged.emit(f"{name} asks to join")
                self.request_added.emit(event)
            case RequestGone():
                self._request_gone(event)
            case PeerGone():
                self._peer_gone(event)
            case PeerConnectionLost():
                self._peer_connection_lost(event)
            case PeerResumed():
                self._peer_resumed(event)
            case ChatReceived(name=name, text=text):
                self.chat_received.emit(name, text)
            case LobbyInfoChanged(info=info):
                self.lobby_info_changed.emit(info)
            case LobbyOpened():
                self._lobby_opened(event)
            case LobbyEnded():
                self._lobby_ended(event)
            case SignallingStatus():
                self._signalling_status(event)
            case SnapshotStored() | SnapshotLoaded():
                self.snapshot_stored.emit(event)
            case LobbyHandedOver(name=name):
                self.message_logged.emit(f"{name} hosts the lobby now")
                self._spawn(self._finish_closing(close_lobby=False, reason="handed_over"))
            case _:
                pass

    def _on_port_mapping(self, state: PortMappingState) -> None:
        self.port_mapping_state = state
        if state.status is not PortMappingStatus.SEARCHING and state.renewals == 0:
            self.message_logged.emit(state.message)
        if state.status is PortMappingStatus.OPENED and state.external_address is not None:
            # The router's address reaches guests on other networks: offer it, and use it.
            address = router_invite_address(state.external_address, state.external_port, "router")
            self.invite.add(address, choose=address.reach is Reach.INTERNET)
        self.port_mapping_changed.emit(state)

    def _lobby_opened(self, event: LobbyOpened) -> None:
        self.code = event.lobby_id
        settings = self.settings.load()
        if self._listen is None and self._hosting is not None and self._hosting.server:
            self._listen = self._hosting.listen  # a lobby moved here: its server just started
            self.server_url = self._hosting.server.url
        if self._listen is not None:
            host, port = self._listen
            self.invite.start(host, port, event.lobby_id, interface_addresses())
            if settings.stun_urls:  # the public address, for the host to choose
                self.invite.discover_public_address(settings.stun_urls[0])
        elif self._adopted_server_url is not None:
            self.invite.start_fixed(remote_invite_link(self._adopted_server_url, event.lobby_id))
        else:
            self.invite.start_fixed(remote_invite_link(settings.remote_server_url, event.lobby_id))
        self.invite_link = self.invite.link
        self._set_state(HostState.OPEN)
        self.message_logged.emit(f"Lobby {event.lobby_id} is open; invite link {self.invite_link}")
        self.lobby_opened.emit(event.lobby_id, self.invite_link)

    def _lobby_ended(self, event: LobbyEnded) -> None:
        if self.state is HostState.OPEN:
            # Ended from the server's side (shut down, host grace over): tidy up here.
            self._spawn(self._finish_closing(close_lobby=False, reason=event.reason))

    def _signalling_status(self, event: SignallingStatus) -> None:
        words = {
            "lost": "Lost the connection to the signalling server; reconnecting…",
            "restored": "Reconnected to the signalling server",
            "failed": "The connection to the signalling server is gone",
        }
        self.message_logged.emit(words.get(event.status, event.status))
        if event.status == "failed" and self.state is HostState.OPEN:
            self.error_occurred.emit(
                "Lost the signalling server for good; the lobby is closed. Guests already "
                "connected were disconnected."
            )
            self._spawn(self._finish_closing(close_lobby=False, reason="signalling_lost"))

    def _request_gone(self, event: RequestGone) -> None:
        name = self._request_names.pop(event.connection_id, "A guest")
        match event.reason:
            case "cancelled":
                self.message_logged.emit(f"{name} stopped waiting")
            case "rejected_by_host":
                self.message_logged.emit(f"{name}'s request was turned down")
            case "timeout":
                self.message_logged.emit(f"Nobody answered {name}'s request in time; it ended")
            case _:
                pass
        self.request_removed.emit(event.connection_id, event.reason)

    def _peer_updated(self, event: PeerUpdated) -> None:
        if event.stats.state is LinkState.CONNECTED and event.peer_id not in self._connected:
            self._connected.add(event.peer_id)
            route = event.stats.route or "unknown route"
            self.message_logged.emit(f"{event.name} connected ({route})")
        self._pending[event.peer_id] = event
        if not self._flush_timer.isActive():
            self._flush_timer.start()

    def _peer_gone(self, event: PeerGone) -> None:
        for peer_id, pending in list(self._pending.items()):
            if pending.connection_id == event.connection_id:
                del self._pending[peer_id]
                self._connected.discard(peer_id)
        shown = self.peers.peer_id_of(event.connection_id)
        if shown is not None:
            self._connected.discard(shown)
        words = _GONE_WORDS.get(event.reason, f"left ({event.reason})")
        self.message_logged.emit(f"{event.name} {words}")
        self.peer_left.emit(event.connection_id, event.name, event.reason)

    def _peer_connection_lost(self, event: PeerConnectionLost) -> None:
        self._on_flush_timer_timeout()  # its row first, if it is still in a batch
        self.message_logged.emit(
            f"{event.name}'s connection dropped; waiting up to {event.grace_s:.0f} s "
            "for them to come back"
        )
        self.peer_connection_lost.emit(event)

    def _peer_resumed(self, event: PeerResumed) -> None:
        peer = self.peers.peer_of(event.old_connection_id)
        if peer is not None and peer.connection_lost:
            self.message_logged.emit(f"{peer.name} is back")
        self.peer_resumed.emit(event)

    # Own signals -------------------------------------------------------------------------------

    def _on_flush_timer_timeout(self) -> None:
        batch, self._pending = list(self._pending.values()), {}
        if batch:
            self.peers_updated.emit(batch)

    def _on_self_request_removed(self, connection_id: str, reason: str) -> None:
        self.requests.remove_request(connection_id)

    def _on_self_peer_left(self, connection_id: str, name: str, reason: str) -> None:
        self.peers.remove_connection(connection_id)

    def _on_self_peer_connection_lost(self, event: PeerConnectionLost) -> None:
        self.peers.mark_connection_lost(event.peer_id, event.grace_s)

    def _on_self_peer_resumed(self, event: PeerResumed) -> None:
        self.peers.mark_reconnected(event.peer_id)

    def _on_invite_link_changed(self, link: str, note: str) -> None:
        if link and self.state is HostState.OPEN and link != self.invite_link:
            self.message_logged.emit(f"Invite link is now {link} ({note})")
        self.invite_link = link or None

    def _on_invite_discovery_failed(self, message: str) -> None:
        self.message_logged.emit(f"Public address not found: {message}")

    def _on_self_lobby_closed(self, reason: str) -> None:
        self.invite.clear()
        self.code = self.invite_link = None
        self.migratable = False
        self._request_names.clear()
        self._connected.clear()
        self.requests.clear()
        self.peers.clear()
        self.message_logged.emit(f"Lobby closed ({reason.replace('_', ' ')})")
        self._reset_auto_accept()

    def _reset_auto_accept(self) -> None:
        """Auto-accept off for the next lobby, unless kept on (Settings or ``--auto-accept``)."""
        settings = self.settings.load()
        if self.overrides.auto_accept:
            if not settings.auto_accept:
                self.settings.update(auto_accept=True)
        elif settings.auto_accept and not settings.auto_accept_pinned:
            self.settings.update(auto_accept=False)
            self.message_logged.emit(
                "Auto-accept is off again for the next lobby (Settings can keep it on)"
            )


__all__ = ["PEER_FLUSH_MS", "HostController", "HostOverrides", "HostState"]
