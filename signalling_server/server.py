"""The websocket I/O layer: the only module of the server that imports websockets.

It accepts connections, feeds their frames to the :class:`LobbyRegistry`,
writes the frames the registry returns, runs the registry's timers, answers
the HTTP GET routes and shuts down gracefully.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass
from http import HTTPStatus

from websockets.asyncio.server import Server, ServerConnection, broadcast
from websockets.asyncio.server import serve as ws_serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.protocol import State

from . import __version__
from .backend import StateBackend
from .clock import Clock
from .config import ServerConfig
from .http_routes import (
    HttpReply,
    health_reply,
    method_not_allowed_reply,
    not_found_reply,
    web_reply,
)
from .ids import ConnectionId
from .metrics import CONTENT_TYPE, ServerMetrics
from .registry import CLOSE_GOING_AWAY, CloseConnection, Effect, LobbyRegistry
from .web_assets import load_web_assets

logger = logging.getLogger(__name__)

#: Close code for a client too slow to read what it is sent.
CLOSE_TOO_SLOW = 1013


@dataclass(frozen=True, slots=True)
class ServerCounters:
    """A snapshot of the live counters."""

    connections: int
    lobbies: int
    relayed: int
    errors: dict[str, int]


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
        self._sockets: dict[ConnectionId, ServerConnection] = {}
        self._metrics: ServerMetrics | None = None
        self._web = load_web_assets(config.web_root)
        self.registry = LobbyRegistry(
            limits=config.limits,
            timeouts=config.timeouts,
            ice=config.ice,
            clock=clock,
            backend=backend,
            on_join_accepted=self._observe_join,
        )
        self._metrics = ServerMetrics(
            self.registry.stats, lambda: len(self._sockets), self.registry.backend.lobby_count
        )
        self._server: Server | None = None
        self._timer_task: asyncio.Task[None] | None = None
        self._timer_due = math.inf
        self._wake = asyncio.Event()
        self._closing: set[asyncio.Task[None]] = set()

    # Public API --------------------------------------------------------------

    @property
    def host(self) -> str:
        return self.config.host

    @property
    def port(self) -> int:
        """The bound port (the real one when the config asked for port 0)."""
        if self._server is None:
            raise RuntimeError("the server is not started")
        port: int = next(iter(self._server.sockets)).getsockname()[1]
        return port

    @property
    def url(self) -> str:
        """``ws://host:port/``, the native endpoint."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"ws://{host}:{self.port}/"

    @property
    def counters(self) -> ServerCounters:
        stats = self.registry.stats
        return ServerCounters(
            connections=len(self._sockets),
            lobbies=self.registry.backend.lobby_count(),
            relayed=stats.relayed,
            errors=dict(stats.errors),
        )

    async def start(self) -> None:
        timeouts = self.config.timeouts
        self._server = await ws_serve(
            self._handle,
            self.config.host,
            self.config.port,
            max_size=self.config.limits.hard_frame_bytes,
            # Signalling frames are small (an ICE candidate is ~300 B): deflate
            # would save little and costs two zlib contexts, ~32 KiB, per connection.
            compression=None,
            ping_interval=timeouts.ping_interval,
            ping_timeout=timeouts.ping_timeout,
            close_timeout=timeouts.close_timeout,
            process_request=self._process_request,
            server_header=f"lobbyhost/{__version__}",
        )
        self._timer_task = asyncio.create_task(self._run_timers(), name="lobbyhost-timers")
        logger.info("listening on %s", self.url)

    async def close(self) -> None:
        """Tell every lobby member ``lobby_closed{server_shutdown}``, then close with 1001."""
        if self._server is None:
            return
        self._apply([e for e in self.registry.shutdown() if not isinstance(e, CloseConnection)])
        # Closes the listening socket and every connection with 1001 (going away).
        self._server.close(close_connections=True)
        await self._server.wait_closed()
        if self._timer_task is not None:
            self._timer_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._timer_task
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)
        logger.info("stopped")

    # Connections ---------------------------------------------------------------

    async def _handle(self, ws: ServerConnection) -> None:
        registry = self.registry
        address = ws.remote_address[0]
        connection_id = registry.connect(address)
        self._sockets[connection_id] = ws
        logger.debug("connection %s from %s", connection_id, address)
        try:
            while True:
                frame = await ws.recv()
                self._apply(registry.handle(connection_id, frame), connection_id)
        except ConnectionClosed as exc:
            logger.debug("connection %s closed: %s", connection_id, exc)
        finally:
            del self._sockets[connection_id]
            self._apply(registry.disconnect(connection_id))

    def _apply(self, effects: list[Effect], sender: ConnectionId | None = None) -> None:
        """Carry out the registry's effects: send frames in order, close sockets.

        A frame for a socket that is already closing (its disconnect not yet
        handled) cannot be delivered; the ``sender`` whose action produced it is
        told so with an error rather than left to assume it arrived.
        """
        sockets = self._sockets
        limit = self.config.limits.send_buffer_bytes
        for effect in effects:
            if isinstance(effect, tuple):
                target, frame = effect
                ws = sockets.get(target)
                if ws is None or ws.state is not State.OPEN:
                    if sender is not None and target != sender:
                        self._undeliverable(sender)
                    continue
                broadcast((ws,), frame, text=True)
                if ws.transport.get_write_buffer_size() > limit:
                    logger.warning("closing %s: too slow to read what it is sent", target)
                    self._close_later(ws, CLOSE_TOO_SLOW, "too slow to keep up")
            else:
                ws = sockets.get(effect.connection_id)
                if ws is not None:
                    self._close_later(ws, effect.code, effect.reason)
        deadline = self.registry.next_deadline()
        if deadline is not None and deadline < self._timer_due:
            self._wake.set()

    def _undeliverable(self, sender: ConnectionId) -> None:
        ws = self._sockets.get(sender)
        if ws is not None:
            frame = self.registry.undeliverable_error()
            broadcast((ws,), frame, text=True)

    def _close_later(self, ws: ServerConnection, code: int, reason: str) -> None:
        task = asyncio.create_task(ws.close(code, reason))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def _run_timers(self) -> None:
        registry = self.registry
        while True:
            deadline = registry.next_deadline()
            self._timer_due = math.inf if deadline is None else deadline
            self._wake.clear()
            delay = None if deadline is None else max(0.0, deadline - registry.clock.monotonic())
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._wake.wait()
            self._apply(registry.expire())

    # HTTP ------------------------------------------------------------------------

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        path = request.path.partition("?")[0]
        if path == "/":
            return None  # the websocket endpoint (a plain GET gets 426 from websockets)
        if request.method != "GET":
            return _response(method_not_allowed_reply())
        if path == "/healthz":
            counters = self.counters
            reply = health_reply(
                connections=counters.connections, lobbies=counters.lobbies, version=__version__
            )
        elif path == "/metrics":
            assert self._metrics is not None
            reply = HttpReply(HTTPStatus.OK, CONTENT_TYPE, self._metrics.render())
        else:
            reply = web_reply(path, self._web) or not_found_reply(path)
        return _response(reply)

    def _observe_join(self, seconds: float) -> None:
        if self._metrics is not None:
            self._metrics.observe_join(seconds)


def _response(reply: HttpReply) -> Response:
    headers = Headers(
        [
            ("Content-Type", reply.content_type),
            ("Content-Length", str(len(reply.body))),
            ("Cache-Control", "no-store"),
            ("Connection", "close"),
            *reply.headers,
        ]
    )
    if reply.status is HTTPStatus.METHOD_NOT_ALLOWED:
        headers["Allow"] = "GET"
    return Response(reply.status.value, reply.status.phrase, headers, reply.body)


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
    "ServerCounters",
    "SignallingServer",
    "serve",
]
