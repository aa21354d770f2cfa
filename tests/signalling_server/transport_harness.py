"""A listener on 127.0.0.1 port 0 in front of a fake node, and raw clients to poke it.

The transport is tested without the registry: :class:`EchoNode` stands in for
``SignallingNode`` (attach / receive / detach), records what it is given and
echoes text frames back through the connection's outlet.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from websockets.client import ClientProtocol
from websockets.frames import Frame
from websockets.http11 import Response
from websockets.uri import parse_uri

from signalling_server.config import Limits, ServerConfig, Timeouts
from signalling_server.frame_log import redacted_frame_logger
from signalling_server.ids import ConnectionId
from signalling_server.node import Outlet
from signalling_server.protocol.events import Event
from signalling_server.protocol.native import Decoded
from signalling_server.transport import HttpRouter, Listener, WebsocketRoutes
from tests.timeouts import scaled

#: How long a test waits for something that must happen.
EVENT_TIMEOUT = scaled(3.0)


def echo_routes() -> WebsocketRoutes:
    """The websocket path ``/`` with an :class:`EchoCodec`."""
    routes = WebsocketRoutes()
    routes.add("/", lambda _request: EchoCodec())
    return routes


class EchoCodec:
    """A codec the echo node never really uses: the transport only passes it on."""

    name = "echo"

    def decode(self, frame: str | bytes) -> Decoded:
        raise NotImplementedError

    def encode(self, event: Event, ref: str | None = None) -> bytes:
        raise NotImplementedError


@dataclass(slots=True)
class Attached:
    address: str
    codec: object
    outlet: Outlet


@dataclass
class EchoNode:
    """Stands in for the node: records attach, receive and detach; echoes text frames."""

    echo: bool = True
    attached: dict[ConnectionId, Attached] = field(default_factory=dict)
    received: list[tuple[ConnectionId, str | bytes]] = field(default_factory=list)
    detached: list[ConnectionId] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=itertools.count)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    def attach(self, address: str, codec: object, outlet: Outlet) -> ConnectionId:
        connection_id = ConnectionId(f"c{next(self._ids)}")
        self.attached[connection_id] = Attached(address, codec, outlet)
        self._changed.set()
        return connection_id

    def receive(self, connection_id: ConnectionId, frame: str | bytes) -> None:
        self.received.append((connection_id, frame))
        if self.echo and isinstance(frame, str):
            self.attached[connection_id].outlet.send(frame.encode())
        self._changed.set()

    def detach(self, connection_id: ConnectionId) -> None:
        self.detached.append(connection_id)
        self._changed.set()

    def outlet(self, connection_id: ConnectionId) -> Outlet:
        return self.attached[connection_id].outlet

    async def wait_until(self, condition: Callable[[], bool], what: str) -> None:
        """Return once ``condition()`` holds; fail after EVENT_TIMEOUT."""
        try:
            async with asyncio.timeout(EVENT_TIMEOUT):
                while not condition():
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            raise AssertionError(f"not within {EVENT_TIMEOUT} s: {what}") from None

    async def one_attached(self) -> ConnectionId:
        """The id of the only connection attached so far (waits for it)."""
        await self.wait_until(lambda: len(self.attached) == 1, "one connection attached")
        return next(iter(self.attached))


def transport_config(
    *, limits: Limits | None = None, timeouts: Timeouts | None = None
) -> ServerConfig:
    """A config for 127.0.0.1 port 0 with short close waits; no guest page."""
    return ServerConfig(
        host="127.0.0.1",
        port=0,
        limits=limits or Limits(),
        timeouts=timeouts or Timeouts(close_timeout=scaled(2.0)),
        web_root=None,
    )


@contextlib.asynccontextmanager
async def running_listener(
    node: EchoNode,
    config: ServerConfig | None = None,
    router: HttpRouter | None = None,
) -> AsyncIterator[Listener]:
    """A listener in front of ``node`` with the websocket path ``/``, for the block."""
    config = config or transport_config()
    listener = Listener(
        config,
        sink=node,
        router=router or HttpRouter(),
        websocket_routes=echo_routes(),
        server_header="lobbyhost/test",
    )
    await listener.start()
    try:
        yield listener
    finally:
        listener.stop_accepting()
        for connection_id in node.attached:
            session = listener.session(connection_id)
            if session is not None:
                session.abort()
        await listener.wait_closed(config.timeouts.close_timeout)


# Raw HTTP --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RawAnswer:
    """An HTTP answer read off the socket: status, headers (lower-case names) and body."""

    status: int
    headers: dict[str, str]
    body: bytes


async def http_exchange(port: int, request: bytes, *, address: str = "127.0.0.1") -> RawAnswer:
    """Send ``request`` as is to 127.0.0.1:``port`` and read the answer until the server closes."""
    async with asyncio.timeout(EVENT_TIMEOUT):
        reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(address, 0))
        try:
            writer.write(request)
            answer = await reader.read()
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return RawAnswer(int(status_line.split()[1]), headers, body)


def http_request(method: str, path: str, body: bytes = b"", *headers: tuple[str, str]) -> bytes:
    """The bytes of an HTTP/1.1 request with a Content-Length body."""
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    if body or method in ("POST", "PUT"):
        lines.append(f"Content-Length: {len(body)}")
    lines += [f"{name}: {value}" for name, value in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


# Raw websocket ---------------------------------------------------------------------------


class RawWebsocket:
    """A websocket client over a plain stream that writes only what the test tells it to.

    websockets' sans-I/O ``ClientProtocol`` parses what arrives; nothing it
    wants to send (a pong, a close answer) goes out unless the test sends it.
    """

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, url: str
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.protocol = ClientProtocol(
            parse_uri(url), logger=redacted_frame_logger("websockets.client")
        )
        #: Every frame received so far.
        self.frames: list[Frame] = []
        self._unread: deque[Frame] = deque()
        #: The server's answer to the opening handshake.
        self.response: Response | None = None

    @classmethod
    async def open(cls, port: int, path: str = "/", *, then: bytes = b"") -> RawWebsocket:
        """Connect and do the opening handshake; ``then`` is written in the same segment."""
        url = f"ws://127.0.0.1:{port}{path}"
        async with asyncio.timeout(EVENT_TIMEOUT):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            raw = cls(reader, writer, url)
            protocol = raw.protocol
            protocol.send_request(protocol.connect())
            writer.write(b"".join(protocol.data_to_send()) + then)
            while raw.response is None:
                data = await reader.read(65536)
                assert data, "the server closed during the handshake"
                protocol.receive_data(data)
                for event in protocol.events_received():
                    if isinstance(event, Response):
                        raw.response = event
                    else:
                        raw._received(event)
        if protocol.handshake_exc is not None:
            await raw.close()
            raise protocol.handshake_exc
        return raw

    def frame(self, frame: Frame) -> bytes:
        """The bytes of ``frame`` as this client would send it (masked)."""
        return frame.serialize(mask=True, extensions=[])

    def send(self, frame: Frame) -> None:
        self.writer.write(self.frame(frame))

    async def next_frame(self) -> Frame:
        """The next frame from the server (fails if the connection closes first)."""
        async with asyncio.timeout(EVENT_TIMEOUT):
            while not self._unread:
                chunk = await self.reader.read(65536)
                assert chunk, "the server closed the connection"
                self._feed(chunk)
        return self._unread.popleft()

    async def read_until_eof(self) -> list[Frame]:
        """Every frame until the server closes TCP; never answers anything."""
        async with asyncio.timeout(EVENT_TIMEOUT):
            while chunk := await self.reader.read(65536):
                self._feed(chunk)
        self.protocol.receive_eof()
        return self.frames

    def _feed(self, chunk: bytes) -> None:
        self.protocol.receive_data(chunk)
        for event in self.protocol.events_received():
            self._received(event)

    def _received(self, event: object) -> None:
        assert isinstance(event, Frame), event
        self.frames.append(event)
        self._unread.append(event)

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()
