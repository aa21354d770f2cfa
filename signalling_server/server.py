"""The signalling server: a :class:`SignallingNode` behind the HTTP and websocket transport.

:class:`SignallingServer` composes the node (registry, timers, delivery) with
the transport (:mod:`signalling_server.transport`) and the HTTP routes:

* websocket ``/``: protocol v1 (:class:`~signalling_server.protocol.NativeCodec`);
* ``GET /healthz``, ``GET /metrics``;
* ``GET /join``, ``/join/<code>`` and ``/web/<file>``: the browser guest page.

More routes are added with :attr:`SignallingServer.http_routes` (e.g.
``server.http_routes.add("POST", "/lambda", handler)``), more websocket paths
with :attr:`SignallingServer.websocket_routes`, before or after :meth:`start`.
"""

from __future__ import annotations

import contextlib
import logging
from collections import Counter
from collections.abc import AsyncIterator
from http import HTTPStatus
from typing import TYPE_CHECKING

from . import __version__
from .backend import StateBackend
from .clock import Clock
from .config import ServerConfig
from .dialects import install_dialects
from .effects import CLOSE_GOING_AWAY
from .http_routes import (
    ASSET_PREFIX,
    JOIN_PREFIX,
    HttpReply,
    HttpRequest,
    error_reply,
    health_reply,
    join_page_redirect,
    not_found_reply,
    web_reply,
)
from .ids import ConnectionId
from .metrics import CONTENT_TYPE, RefusalCollector, ServerMetrics
from .node import NodeCounters, SignallingNode
from .origins import OriginPolicy
from .protocol import NativeCodec
from .transport import CLOSE_TOO_SLOW, HttpRouter, Listener, WebsocketOpener, WebsocketRoutes
from .web_assets import WebAssets, load_web_assets

if TYPE_CHECKING:
    from .cluster import ClusterLink
    from .cluster.connection_counts import ConnectionCountSync

logger = logging.getLogger(__name__)

#: Seconds past ``close_timeout`` that :meth:`SignallingServer.close` waits before aborting.
_CLOSE_MARGIN = 0.5


#: A snapshot of the live counters (connections, lobbies, relayed, errors by code).
ServerCounters = NodeCounters


class SignallingServer:
    """One running signalling server; made and started by :func:`serve`."""

    def __init__(
        self,
        config: ServerConfig,
        *,
        clock: Clock | None = None,
        backend: StateBackend | None = None,
    ) -> None:
        self.config = config
        self._metrics: ServerMetrics | None = None
        redis_backend = None
        if config.redis is not None and backend is None:
            # Imported here: redis is an optional extra, unneeded by the embedded server.
            from .backend.redis import RedisBackend
            from .cluster.clock import WallClock

            backend = redis_backend = RedisBackend(config.redis)
            clock = clock or WallClock()
        #: The registry, its timers and delivery; the transport feeds it.
        self.node = SignallingNode(
            config, clock=clock, backend=backend, on_join_accepted=self._observe_join
        )
        node = self.node
        self._metrics = ServerMetrics(
            node.registry.stats, lambda: node.connection_count, lambda: node.counters.lobbies
        )
        #: This node's link to the other nodes of its cluster (``config.redis``), or ``None``.
        self.cluster: ClusterLink | None = None
        if redis_backend is not None:
            from .cluster import ClusterLink
            from .cluster.budgets import RedisAddressBudgets
            from .cluster.metrics import ClusterCollector

            self.cluster = ClusterLink(
                node,
                redis_backend,
                heartbeat=config.timeouts.node_heartbeat,
                node_timeout=config.timeouts.node_timeout,
            )
            self._metrics.registry.register(ClusterCollector(self.cluster))
            # Open lobbies and join attempts per address count for the whole cluster.
            node.registry.shared_budgets = RedisAddressBudgets(redis_backend)
        #: HTTP routes by method and path; add your own with ``http_routes.add(...)``.
        self.http_routes = HttpRouter()
        _add_standard_routes(self.http_routes, self, load_web_assets(config.web_root))
        #: Websocket paths and their openers; any other path is not a websocket.
        self.websocket_routes = WebsocketRoutes()
        self._listener = Listener(
            config,
            sink=node,
            router=self.http_routes,
            websocket_routes=self.websocket_routes,
            server_header=f"lobbyhost/{__version__}",
        )
        #: Shares this node's connections per address with the cluster's other nodes.
        self.connection_counts: ConnectionCountSync | None = None
        if self.cluster is not None and redis_backend is not None:
            from .cluster.connection_counts import ConnectionCountSync

            self.connection_counts = ConnectionCountSync(
                redis_backend.url,
                prefix=redis_backend.prefix,
                node_id=self.cluster.node_id,
                admission=self._listener.admission,
                interval=config.timeouts.node_heartbeat,
                ttl=config.timeouts.node_timeout,
            )
        refused = self._listener.admission.refused
        self._metrics.registry.register(RefusalCollector(refused, node.registry.stats))
        native = NativeCodec(
            max_frame_bytes=config.limits.max_frame_bytes,
            max_snapshot_frame_bytes=config.limits.hard_frame_bytes,
        )
        origins = OriginPolicy(config.allowed_origins)
        self.websocket_routes.add("/", native_opener(native, origins, refused))
        install_dialects(self)
        self._started = False

    # Public API --------------------------------------------------------------

    @property
    def host(self) -> str:
        return self.config.host

    @property
    def port(self) -> int:
        """The bound port (the real one when the config asked for port 0)."""
        return self._listener.port

    @property
    def url(self) -> str:
        """``ws://host:port/`` (``wss://`` with TLS), the native endpoint."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        scheme = "wss" if self.config.tls_cert is not None else "ws"
        return f"{scheme}://{host}:{self.port}/"

    @property
    def counters(self) -> ServerCounters:
        return self.node.counters

    async def start(self) -> None:
        """Join the cluster (with ``config.redis``), start the node's timers and listen."""
        if self.cluster is not None:
            await self.cluster.start()
        self.node.start()
        if self.connection_counts is not None:
            self.connection_counts.start()
        try:
            await self._listener.start()
        except BaseException:
            await self.node.stop()
            if self.connection_counts is not None:
                await self.connection_counts.stop()
            if self.cluster is not None:
                await self.cluster.stop()
            raise
        self._started = True
        logger.info("listening on %s", self.url)

    async def close(self) -> None:
        """Tell every lobby member ``lobby_closed{server_shutdown}``, then close with 1001.

        Connections get ``close_timeout`` seconds to finish their closing
        handshake; those still open then are aborted.
        """
        if not self._started:
            return
        self._started = False
        self.node.shut_down()
        self._listener.stop_accepting()
        # Each websocket aborts itself close_timeout after its close frame; the
        # margin only keeps this safety net from racing those timers.
        await self._listener.wait_closed(self.config.timeouts.close_timeout + _CLOSE_MARGIN)
        await self.node.stop()
        if self.connection_counts is not None:
            await self.connection_counts.stop()
        if self.cluster is not None:
            await self.cluster.stop()
        logger.info("stopped")

    def abort_connection(self, connection_id: str) -> bool:
        """Drop a websocket's TCP connection with no closing handshake, as a network failure would.

        For fault injection in tests (``connection_id`` as events name it);
        ``False`` when there is no such connection.
        """
        session = self._listener.session(ConnectionId(connection_id))
        if session is None:
            return False
        session.abort()
        return True

    def close_connection(
        self, connection_id: str, code: int = CLOSE_GOING_AWAY, reason: str = ""
    ) -> bool:
        """Start closing a websocket as the server would (a close frame, then wait for the client).

        ``False`` when there is no such connection.
        """
        session = self._listener.session(ConnectionId(connection_id))
        if session is None:
            return False
        session.close(code, reason)
        return True

    # HTTP ------------------------------------------------------------------------

    def _health(self, request: HttpRequest) -> HttpReply:
        """``GET /healthz``."""
        counters = self.node.counters
        return health_reply(
            connections=counters.connections,
            lobbies=counters.lobbies,
            version=__version__,
            degraded=self.cluster is not None and not self.cluster.healthy,
        )

    def _metrics_reply(self, request: HttpRequest) -> HttpReply:
        """``GET /metrics``."""
        assert self._metrics is not None
        return HttpReply(HTTPStatus.OK, CONTENT_TYPE, self._metrics.render())

    def _observe_join(self, seconds: float) -> None:
        if self._metrics is not None:
            self._metrics.observe_join(seconds)


def native_opener(
    codec: NativeCodec, origins: OriginPolicy, refused: Counter[str]
) -> WebsocketOpener:
    """Opens protocol v1 at ``/`` for requests whose ``Origin`` the policy allows; else 403."""

    def open_native(request: HttpRequest) -> NativeCodec | HttpReply:
        origin = request.header("origin")
        if origins.allows(origin, request.header("host")):
            return codec
        refused["origin"] += 1
        logger.debug(
            "refused a websocket from %s: origin %r is not allowed", request.client, origin
        )
        return error_reply(
            HTTPStatus.FORBIDDEN,
            f"Pages from {origin} may not open this server's websocket: it accepts its own"
            " pages and the origins its operator allows (--allowed-origin).",
        )

    return open_native


def _add_standard_routes(
    routes: HttpRouter, server: SignallingServer, assets: WebAssets | None
) -> None:
    def page(request: HttpRequest) -> HttpReply:
        return web_reply(request.path, assets) or not_found_reply(request.path)

    # "/" is the websocket endpoint; a browser that opens it is sent to the join page.
    routes.add("GET", "/", lambda _request: join_page_redirect(assets))
    routes.add("GET", "/healthz", server._health)
    routes.add("GET", "/metrics", server._metrics_reply)
    routes.add("GET", JOIN_PREFIX, page)
    routes.add("GET", f"{JOIN_PREFIX}/", page, prefix=True)
    routes.add("GET", ASSET_PREFIX, page, prefix=True)


@contextlib.asynccontextmanager
async def serve(
    config: ServerConfig | None = None,
    *,
    clock: Clock | None = None,
    backend: StateBackend | None = None,
) -> AsyncIterator[SignallingServer]:
    """Run a signalling server for the duration of an ``async with`` block.

    ::

        async with serve(ServerConfig(port=0)) as server:
            print(server.url, server.counters)
    """
    server = SignallingServer(config or ServerConfig(), clock=clock, backend=backend)
    await server.start()
    try:
        yield server
    finally:
        await server.close()


__all__ = [
    "CLOSE_GOING_AWAY",
    "CLOSE_TOO_SLOW",
    "ServerCounters",
    "SignallingServer",
    "serve",
]
