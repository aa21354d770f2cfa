"""Hosting as one Qt-free service: the embedded server, a signalling client and a host session.

:class:`HostingService` is composed once, here, and used by the desktop app's
controller, the headless host and the self-test. It starts the embedded
signalling server (unless a remote server's URL is given), connects a
:class:`~lobbyhost_app.net.signalling.SignallingClient` to it and makes the
:class:`~lobbyhost_app.net.host.HostSession` with its game bridge
(:class:`~lobbyhost_app.net.game_ports.HostGamePorts`, the shared game ports);
:meth:`HostingService.stop` takes all of it down again, in order, whatever was reached.

With :attr:`HostingOptions.port_mapping` set, opening a lobby on the embedded
server also asks the home router to forward its port
(:mod:`lobbyhost_app.net.port_mapping`); stopping removes the mapping first.

The ICE address allow-list is not installed here: that is process-wide, the
job of whoever owns the process (see :mod:`lobbyhost_app.net.ice`).
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from signalling_server import (
    IceConfig,
    Limits,
    ServerConfig,
    SignallingError,
    SignallingServer,
    Timeouts,
    TurnSecretServer,
    TurnServer,
    serve,
)
from signalling_server.protocol import SeatRequest

from ..invite import host_port, local_connect_host
from ..session_values import HostEvent, LobbyOpened
from .errors import ListenError, NetError
from .forwards import SharedPort
from .game_ports import HostGamePorts
from .host import HostSession
from .ice import IceSettings
from .port_mapping import PortMapper, PortMappingListener, PortMappingOptions, PortMappingState
from .signalling import SignallingClient

logger = logging.getLogger(__name__)


#: How long a host waits for a guest's link to open, unless told otherwise.
HANDSHAKE_TIMEOUT_S = 20.0


@dataclass(frozen=True, slots=True, kw_only=True)
class HostingOptions:
    """Where the signalling server is, and how the host behaves."""

    #: Where the embedded server listens (ignored with ``remote_url``).
    listen_host: str = "0.0.0.0"
    #: 0 asks the system for any free port.
    listen_port: int = 8765
    #: A running signalling server to use instead of an embedded one.
    remote_url: str | None = None
    #: Limits of the embedded server; protocol.md's defaults when ``None``.
    limits: Limits | None = None
    #: Timers of the embedded server (grace periods ...); protocol.md's defaults when ``None``.
    timeouts: Timeouts | None = None
    #: The host's own ICE servers; the embedded server hands its STUN and TURN
    #: servers (those with credentials) to every guest too.
    ice: IceSettings = field(default_factory=IceSettings)
    #: TURN servers sharing a secret with this host (coturn ``use-auth-secret``):
    #: the embedded server mints credentials from it for the host and each guest.
    turn_secrets: tuple[TurnSecretServer, ...] = ()
    auto_accept: bool = False
    #: How long the host waits for a guest's link to open before giving up on it
    #: (the guest is then kicked as unreachable, freeing its seat).
    handshake_timeout: float = HANDSHAKE_TIMEOUT_S
    #: Reconnect and resume when the signalling socket drops.
    reconnect: bool = True
    ping_interval: float = 2.0
    #: Game ports shared with every guest over the game bridge (:mod:`.game_ports`).
    forwards: tuple[SharedPort, ...] = ()
    #: The only address the bridge connects shared ports to.
    forward_target: str = "127.0.0.1"
    #: Web origins besides the embedded server's own whose pages may open its native
    #: endpoint (the guest pages of the server a moved lobby came from).
    allowed_origins: tuple[str, ...] = ()
    #: Ask the router to forward the embedded server's port while a lobby is
    #: open (``None``: don't). Not with a remote server or a loopback listener.
    port_mapping: PortMappingOptions | None = None


class HostingService:
    """The embedded server (unless remote), the signalling client and the host session."""

    def __init__(self, options: HostingOptions) -> None:
        self.options = options
        #: The embedded server while it runs (``None`` with a remote server).
        self.server: SignallingServer | None = None
        #: Where the signalling client connects, once started.
        self.client_url: str | None = None
        self._session: HostSession | None = None
        self._game_ports: HostGamePorts | None = None
        self._client: SignallingClient | None = None
        self._listeners: list[Callable[[HostEvent], None]] = []
        self._port_mapper: PortMapper | None = None
        self._port_mapping_listeners: list[PortMappingListener] = []
        self._server_stack = contextlib.AsyncExitStack()

    @property
    def session(self) -> HostSession:
        """The host session; :class:`NetError` before :meth:`start`."""
        if self._session is None:
            raise NetError("hosting has not started")
        return self._session

    @property
    def game_ports(self) -> HostGamePorts:
        """The game bridge's shared ports; :class:`NetError` before :meth:`start`."""
        if self._game_ports is None:
            raise NetError("hosting has not started")
        return self._game_ports

    @property
    def listen(self) -> tuple[str, int] | None:
        """The embedded server's listen address and bound port, while it runs."""
        if self.server is None:
            return None
        return self.options.listen_host, self.server.port

    def add_listener(self, listener: Callable[[HostEvent], None]) -> None:
        """Hear the session's events; may be called before :meth:`start`."""
        self._listeners.append(listener)
        if self._session is not None:
            self._session.add_listener(listener)

    def add_port_mapping_listener(self, listener: PortMappingListener) -> None:
        """Hear each state of the router's port mapping (once a lobby opens)."""
        self._port_mapping_listeners.append(listener)
        if self._port_mapper is not None:
            self._port_mapper.add_listener(listener)

    @property
    def port_mapping(self) -> PortMappingState | None:
        """The router's port mapping as it stands (``None``: not asked for)."""
        return self._port_mapper.state if self._port_mapper is not None else None

    async def start(self) -> None:
        """Start the server (unless remote), connect, make the session.

        Raises :class:`ListenError` when the server cannot listen,
        :class:`NetError` when the server is refused or unreachable; what was
        started is stopped again first.
        """
        try:
            url = self.options.remote_url or await self._start_server()
            self.client_url = url
            self._client = client = SignallingClient(url, reconnect=self.options.reconnect)
            await client.connect()
            session = HostSession(
                client,
                self.options.ice,
                auto_accept=self.options.auto_accept,
                ping_interval=self.options.ping_interval,
                handshake_timeout=self.options.handshake_timeout,
                guest_grace=self._guest_grace(),
            )
            for listener in self._listeners:
                session.add_listener(listener)
            self._game_ports = HostGamePorts(
                session, self.options.forwards, target_host=self.options.forward_target
            )
            self._session = session
        except BaseException:
            await self.stop(close_lobby=False)
            raise

    async def open_lobby(
        self,
        *,
        name: str | None = None,
        lobby_id: str | None = None,
        max_guests: int | None = None,
        password: str | None = None,
        display_name: str | None = None,
        migratable: bool = False,
        peer_id: int | None = None,
        seats: Sequence[SeatRequest] = (),
    ) -> LobbyOpened:
        """Open the lobby on the started session; raises :class:`ServerError` if refused.

        Then the port mapping starts, in the background, when asked for.
        """
        opened = await self.session.start(
            name=name,
            lobby_id=lobby_id,
            max_guests=max_guests,
            password=password,
            display_name=display_name,
            migratable=migratable,
            peer_id=peer_id,
            seats=seats,
        )
        self._start_port_mapping()
        return opened

    def _start_port_mapping(self) -> None:
        options, server = self.options.port_mapping, self.server
        if options is None or server is None or self._port_mapper is not None:
            return
        if _is_loopback(self.options.listen_host):
            logger.info("not mapping a port: the server listens on loopback only")
            return
        self._port_mapper = mapper = PortMapper(server.port, options=options)
        for listener in self._port_mapping_listeners:
            mapper.add_listener(listener)
        mapper.start()

    async def stop(self, *, close_lobby: bool = True) -> None:
        """Close the lobby (guests are told) and the connection, then stop the server."""
        session, self._session = self._session, None
        self._game_ports = None
        client, self._client = self._client, None
        mapper, self._port_mapper = self._port_mapper, None
        try:
            if mapper is not None:
                await mapper.close()
            if session is not None:
                await session.close(close_lobby=close_lobby)
            elif client is not None:
                await client.close()
        finally:
            self.server = None
            self.client_url = None
            await self._server_stack.aclose()

    def _guest_grace(self) -> float:
        """How long the server keeps a dropped guest's place (a remote one's: its default)."""
        if self.server is not None and self.options.timeouts is not None:
            return self.options.timeouts.guest_grace
        return Timeouts().guest_grace

    async def _start_server(self) -> str:
        """Start the embedded server; the URL this machine reaches it at."""
        host, port = self.options.listen_host, self.options.listen_port
        try:
            config = ServerConfig(
                host=host,
                port=port,
                limits=self.options.limits or Limits(),
                timeouts=self.options.timeouts or Timeouts(),
                allowed_origins=self.options.allowed_origins,
                ice=embedded_ice_config(self.options.ice, self.options.turn_secrets),
            )
            self.server = server = await self._server_stack.enter_async_context(serve(config))
        except OSError as exc:
            raise ListenError(host, port, exc) from exc
        except SignallingError as exc:  # a listen setting the server refuses
            raise NetError(str(exc)) from exc
        logger.info("embedded signalling server listening on %s", server.url)
        return f"ws://{host_port(local_connect_host(host), server.port)}/"


def embedded_ice_config(ice: IceSettings, turn_secrets: Sequence[TurnSecretServer]) -> IceConfig:
    """What the embedded server hands the host and every guest: the host's STUN servers, its
    TURN servers with credentials, and credentials minted per client from each shared secret.

    A TURN URL without credentials is left out: nobody could use it.
    """
    stun: list[str] = []
    turn: list[TurnServer] = []
    for server in ice.servers:
        stun += [url for url in server.urls if url.lower().startswith(("stun:", "stuns:"))]
        turn_urls = tuple(url for url in server.urls if url.lower().startswith(("turn:", "turns:")))
        if turn_urls and server.username and server.credential:
            turn.append(
                TurnServer(urls=turn_urls, username=server.username, credential=server.credential)
            )
    return IceConfig(stun_urls=tuple(stun), turn=tuple(turn), turn_secret=tuple(turn_secrets))


def _is_loopback(host: str) -> bool:
    """Whether ``host`` (a listen address) is reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
