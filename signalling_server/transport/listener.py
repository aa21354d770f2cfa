"""The listening socket and the connections it accepted.

``loop.create_server`` with a backlog of 1024: asyncio's default of 100 drops
SYNs when hundreds of clients reconnect at once (a server restart, a Wi-Fi
blip), and each dropped SYN costs its client a one-second retransmit.

Each accepted connection passes :class:`~.admission.ConnectionAdmission`
(per-address cap, a ceiling below the open-file limit) under the address
:class:`~.client_address.ClientAddresses` finds for it. Should ``accept()``
still fail for lack of descriptors, asyncio stops accepting for a second and
retries; the listener turns its error report into one warning per episode.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from typing import Any

from ..config import ServerConfig
from ..http_routes import HttpReply
from ..ids import ConnectionId
from .admission import ConnectionAdmission, connection_ceiling
from .client_address import ClientAddresses
from .coalescing import WriteCoalescer
from .connection import Connection
from .router import HttpRouter, WebsocketRoutes
from .tls import server_tls_context
from .websocket import ConnectionSink, WebsocketSession

logger = logging.getLogger(__name__)

BACKLOG = 1024


class Listener:
    """Accepts TCP connections and keeps track of them until they are gone."""

    def __init__(
        self,
        config: ServerConfig,
        *,
        sink: ConnectionSink,
        router: HttpRouter,
        websocket_routes: WebsocketRoutes,
        server_header: str,
    ) -> None:
        self.config = config
        self.sink = sink
        self.router = router
        self.websocket_routes = websocket_routes
        #: The ``Server`` header of every reply.
        self.server_header = server_header
        self._server: asyncio.Server | None = None
        self._connections: set[Connection] = set()
        self._sessions: dict[ConnectionId, WebsocketSession] = {}
        self._all_gone = asyncio.Event()
        self._all_gone.set()
        #: Finds each request's client address (``X-Forwarded-For`` from trusted proxies).
        self.client_addresses = ClientAddresses(config.trusted_proxies)
        self.admission = ConnectionAdmission(
            per_address=config.limits.connections_per_address, ceiling=connection_ceiling()
        )
        #: The budget key each admitted connection is counted under.
        self._counted: dict[Connection, str] = {}
        self._accept_failing = False
        #: Writes each session's queued frames once per read (see :mod:`.coalescing`).
        self.write_coalescer = WriteCoalescer()

    async def start(self) -> None:
        """Listen on the configured host and port."""
        loop = asyncio.get_running_loop()
        tls = None
        if self.config.tls_cert is not None and self.config.tls_key is not None:
            tls = server_tls_context(self.config.tls_cert, self.config.tls_key)
        self._server = await loop.create_server(
            lambda: Connection(self),
            self.config.host,
            self.config.port,
            backlog=BACKLOG,
            ssl=tls,
            reuse_port=self.config.reuse_port or None,
        )
        _watch_accept_failures(loop, self)

    @property
    def port(self) -> int:
        """The bound port (the real one when the config asked for port 0)."""
        if self._server is None:
            raise RuntimeError("the listener is not started")
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    @property
    def connection_count(self) -> int:
        """Open TCP connections, HTTP and websocket."""
        return len(self._connections)

    def session(self, connection_id: ConnectionId) -> WebsocketSession | None:
        """The open websocket of ``connection_id``, if it is on this listener."""
        return self._sessions.get(connection_id)

    def stop_accepting(self) -> None:
        """Close the listening socket and cut short HTTP exchanges; websockets stay."""
        if self._server is not None:
            self._server.close()
        for connection in list(self._connections):
            connection.close_idle()

    async def wait_closed(self, grace: float) -> None:
        """Wait for every connection to be gone; abort those still there after ``grace`` s."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(grace):
                await self._all_gone.wait()
        if self._connections:
            logger.warning("aborting %d connections still closing", len(self._connections))
            for connection in list(self._connections):
                connection.abort()
            await self._all_gone.wait()  # abort() reports the loss on the next loop turn
        if self._server is not None:
            await self._server.wait_closed()

    # Called by the connections ---------------------------------------------------------

    def connection_made(self, connection: Connection, peer: str) -> HttpReply | None:
        """Track a new connection; the reply refusing it when it is over a cap."""
        self._connections.add(connection)
        self._all_gone.clear()
        if self._accept_failing:
            self._accept_failing = False
            logger.warning("accepting connections again (%d open)", len(self._connections))
        refusal = self.admission.server_full(len(self._connections))
        if refusal is not None:
            logger.debug("refusing %s: %d connections open", peer, len(self._connections))
            return refusal
        if self.client_addresses.is_trusted(peer):
            return None  # counted once its X-Forwarded-For names the client
        return self.admit(connection, peer)

    def admit(self, connection: Connection, address: str) -> HttpReply | None:
        """Count ``connection`` against ``address``'s cap; the ``429`` when it is over."""
        key, refusal = self.admission.admit(address)
        if key is not None:
            self._counted[connection] = key
        else:
            logger.debug("refusing %s: too many connections from it", address)
        return refusal

    def accept_failed(self, error: BaseException | None) -> None:
        """``accept()`` failed for lack of resources; asyncio retries a second later."""
        if not self._accept_failing:
            self._accept_failing = True
            logger.warning(
                "cannot accept connections (%s) with %d open; retrying every second",
                error,
                len(self._connections),
            )

    def session_opened(self, session: WebsocketSession, connection_id: ConnectionId) -> None:
        self._sessions[connection_id] = session

    def connection_lost(self, connection: Connection) -> None:
        self._connections.discard(connection)
        key = self._counted.pop(connection, None)
        if key is not None:
            self.admission.release(key)
        session = connection.session
        if session is not None and session.connection_id is not None:
            self._sessions.pop(session.connection_id, None)
        if not self._connections:
            self._all_gone.set()

    def owns_socket(self, sock: Any) -> bool:
        """Whether ``sock`` (a listening socket asyncio reports on) is this listener's."""
        server = self._server
        if server is None or sock is None:
            return False
        return any(own.fileno() == sock.fileno() for own in server.sockets)


#: What asyncio's selector loops report when ``accept()`` fails with EMFILE,
#: ENFILE, ENOBUFS or ENOMEM (they stop accepting and retry a second later).
_ACCEPT_FAILED = "socket.accept() out of system resource"
#: The listeners each loop's exception handler knows, installed once per loop.
_watched: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, weakref.WeakSet[Listener]] = (
    weakref.WeakKeyDictionary()
)


def _watch_accept_failures(loop: asyncio.AbstractEventLoop, listener: Listener) -> None:
    """Route the loop's accept-failure reports for ``listener``'s sockets to it.

    asyncio logs each failed retry as an error with a traceback, once a second
    for as long as descriptors run short; the listener says it once instead.
    Every other report goes to the handler that was there before.
    """
    listeners = _watched.get(loop)
    if listeners is not None:
        listeners.add(listener)
        return
    listeners = _watched[loop] = weakref.WeakSet([listener])
    previous = loop.get_exception_handler()

    def handle(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if context.get("message") == _ACCEPT_FAILED:
            for watched in listeners:
                if watched.owns_socket(context.get("socket")):
                    watched.accept_failed(context.get("exception"))
                    return
        if previous is not None:
            previous(loop, context)
        else:
            loop.default_exception_handler(context)

    loop.set_exception_handler(handle)


__all__ = ["BACKLOG", "Listener"]
