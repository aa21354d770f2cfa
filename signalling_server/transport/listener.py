"""The listening socket and the connections it accepted.

``loop.create_server`` with a backlog of 1024: asyncio's default of 100 drops
SYNs when hundreds of clients reconnect at once (a server restart, a Wi-Fi
blip), and each dropped SYN costs its client a one-second retransmit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from ..config import ServerConfig
from ..ids import ConnectionId
from .connection import Connection
from .router import HttpRouter, WebsocketRoutes
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

    async def start(self) -> None:
        """Listen on the configured host and port."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: Connection(self),
            self.config.host,
            self.config.port,
            backlog=BACKLOG,
            reuse_port=self.config.reuse_port or None,
        )

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

    def connection_made(self, connection: Connection) -> None:
        self._connections.add(connection)
        self._all_gone.clear()

    def session_opened(self, session: WebsocketSession, connection_id: ConnectionId) -> None:
        self._sessions[connection_id] = session

    def connection_lost(self, connection: Connection) -> None:
        self._connections.discard(connection)
        session = connection.session
        if session is not None and session.connection_id is not None:
            self._sessions.pop(session.connection_id, None)
        if not self._connections:
            self._all_gone.set()


__all__ = ["BACKLOG", "Listener"]
