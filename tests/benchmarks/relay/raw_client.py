"""The light load generator's client: an ``asyncio.Protocol`` per connection, no task or queue.

The opening handshake goes through websockets' sans-I/O ``ClientProtocol`` (it
builds the request and checks the 101 response, ``Sec-WebSocket-Accept``
included), fed exactly the response's bytes. Then, when no extension was
negotiated, frames go straight to and from the transport through ``frames.py``
(masked text frames out; server frames parsed, pings answered, a close echoed);
a connection that negotiated permessage-deflate (the bare Python relay, when
clients offer it) stays on websockets' protocol for its frames.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from typing import cast

from websockets.client import ClientProtocol
from websockets.extensions.permessage_deflate import enable_client_permessage_deflate
from websockets.frames import Frame
from websockets.frames import Opcode as WebsocketsOpcode
from websockets.http11 import Response
from websockets.protocol import State
from websockets.uri import parse_uri

from .addresses import loopback, loopback_url
from .errors import BenchmarkError
from .frames import (
    DEFAULT_MAX_SIZE,
    FrameError,
    Opcode,
    ServerFrameReader,
    client_frame,
    text_frame,
)
from .frames import close_code as read_close_code

#: Far more than a 101 response with a few headers takes.
MAX_RESPONSE_HEAD = 16 * 1024
OPEN_TIMEOUT = 30.0
CLOSE_TIMEOUT = 2.0
_NORMAL_CLOSURE = (1000).to_bytes(2, "big")
_CONTROL_OPCODES = (WebsocketsOpcode.CLOSE, WebsocketsOpcode.PING, WebsocketsOpcode.PONG)
#: Masking keys (RFC 6455 asks for unpredictable ones; they need not be secret here).
_MASKS = random.Random()

#: Receives each text message's payload and the time its bytes were read (ns).
Receiver = Callable[[bytes, int], None]
#: Told once when the connection fails (a frame it must not accept, a bad handshake).
FailureHandler = Callable[[BaseException], None]


class LinkClosed(BenchmarkError):
    """A send on a connection that is closed or closing."""


class RawClient(asyncio.Protocol):
    """One websocket client connection, frames written straight to its transport."""

    def __init__(self, protocol: ClientProtocol) -> None:
        # Until attach(): a server may speak first, right behind its 101 (PeerJS's OPEN).
        self._held: list[tuple[bytes, int]] = []
        self._held_failures: list[BaseException] = []
        self.receiver: Receiver = self._hold
        self.on_failure: FailureHandler = self._held_failures.append
        self.failure: BaseException | None = None
        self._handshake: ClientProtocol | None = protocol
        # Kept after the handshake only when an extension was negotiated.
        self._protocol: ClientProtocol | None = None
        self._reader = ServerFrameReader(DEFAULT_MAX_SIZE)
        self._head = b""
        self._transport: asyncio.Transport | None = None
        loop = asyncio.get_running_loop()
        self.opened: asyncio.Future[None] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()
        self._closing = False

    # asyncio.Protocol ----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self._transport = cast(asyncio.Transport, transport)
        assert self._handshake is not None
        self._handshake.send_request(self._handshake.connect())
        self._flush(self._handshake)

    def data_received(self, data: bytes) -> None:
        now = time.monotonic_ns()
        try:
            if self._handshake is not None:
                data = self._finish_handshake(data)
                if not data:
                    return
            if self._protocol is not None:
                self._receive_extended(data, now)
            else:
                self._receive(data, now)
        except (FrameError, UnicodeDecodeError) as exc:
            self._fail(exc)

    def connection_lost(self, exc: Exception | None) -> None:
        self._closing = True
        if not self.opened.done():
            self.opened.set_exception(
                exc or BenchmarkError("connection closed during the opening handshake")
            )
        if not self.closed.done():
            self.closed.set_result(None)

    def attach(self, receiver: Receiver, on_failure: FailureHandler) -> None:
        """Hand every text message and failure to these from now on (held ones first)."""
        self.receiver, self.on_failure = receiver, on_failure
        held, self._held = self._held, []
        for payload, now in held:
            receiver(payload, now)
        failures, self._held_failures = self._held_failures, []
        for exc in failures:
            on_failure(exc)

    def _hold(self, payload: bytes, now: int) -> None:
        self._held.append((payload, now))

    # Sending -------------------------------------------------------------------------

    def write(self, text: str) -> None:
        """Send one text message now (the hot path: one masked frame, one write)."""
        transport = self._transport
        if self._closing or transport is None:
            raise LinkClosed("the connection is closed")
        if self._protocol is None:
            transport.write(text_frame(text, _MASKS.randbytes(4)))
        else:
            self._protocol.send_text(text.encode())
            self._flush(self._protocol)

    async def send(self, text: str) -> None:
        """:meth:`write`, for callers that await their sends."""
        self.write(text)

    async def close(self) -> None:
        """Start the closing handshake and wait (a while) for the server to end it."""
        transport = self._transport
        if transport is None or self.closed.done():
            return
        if not self._closing:
            self._closing = True
            if self._protocol is not None:
                self._protocol.send_close(1000)
                self._flush(self._protocol)
            else:
                transport.write(self._control(Opcode.CLOSE, _NORMAL_CLOSURE))
        try:
            async with asyncio.timeout(CLOSE_TIMEOUT):
                await asyncio.shield(self.closed)
        finally:
            self.abort()

    def abort(self) -> None:
        """Drop the connection at once."""
        self._closing = True
        if self._transport is not None:
            self._transport.abort()

    # Receiving -----------------------------------------------------------------------

    def _finish_handshake(self, data: bytes) -> bytes:
        """Feed the response head to websockets' protocol; return the bytes after it."""
        protocol = self._handshake
        assert protocol is not None
        head = self._head + data
        end = head.find(b"\r\n\r\n")
        if end < 0:
            if len(head) > MAX_RESPONSE_HEAD:
                raise FrameError(f"no end of the response head in {len(head)} bytes")
            self._head = head
            return b""
        status = head[: head.find(b"\r\n")]
        if not status.startswith(b"HTTP/1.1 101 "):
            raise FrameError(f"opening handshake refused: {status.decode('latin-1')}")
        end += 4
        self._head = b""
        self._handshake = None
        protocol.receive_data(head[:end])
        events = protocol.events_received()
        if protocol.handshake_exc is not None:
            raise FrameError(f"opening handshake failed: {protocol.handshake_exc}")
        if protocol.state is not State.OPEN or not any(isinstance(e, Response) for e in events):
            raise FrameError(f"opening handshake unfinished (state {protocol.state.name})")
        if protocol.extensions:
            self._protocol = protocol
        self.opened.set_result(None)
        return head[end:]

    def _receive(self, data: bytes, now: int) -> None:
        receiver = self.receiver
        for opcode, payload in self._reader.feed(data):
            if opcode is Opcode.TEXT:
                payload.decode()  # text frames must be UTF-8, as websockets checks
                receiver(payload, now)
            elif opcode is Opcode.PING:
                self._write_control(Opcode.PONG, payload)
            elif opcode is Opcode.CLOSE:
                code = read_close_code(payload)
                if not self._closing:
                    self._write_control(Opcode.CLOSE, payload[:2])
                    self._closing = True
                    self.on_failure(LinkClosed(f"closed by the server (code {code})"))
            elif opcode is Opcode.BINARY:
                raise FrameError("a binary message (every server here sends text)")
            # PONG: unsolicited pongs are allowed (RFC 6455, 5.5.3); none is awaited.

    def _receive_extended(self, data: bytes, now: int) -> None:
        protocol = self._protocol
        assert protocol is not None
        protocol.receive_data(data)
        events = protocol.events_received()
        self._flush(protocol)  # pongs and the close echo websockets queued
        if protocol.parser_exc is not None:
            raise FrameError(f"websockets' parser: {protocol.parser_exc}")
        for event in events:
            if not isinstance(event, Frame) or event.opcode in _CONTROL_OPCODES:
                continue  # websockets answered pings and the close itself
            if event.opcode is not WebsocketsOpcode.TEXT or not event.fin:
                raise FrameError(f"unexpected {event.opcode.name} frame (fin={event.fin})")
            self.receiver(bytes(event.data), now)
        if protocol.state is not State.OPEN and not self._closing:
            self._closing = True
            self.on_failure(LinkClosed(f"closed by the server ({protocol.close_rcvd})"))

    # Helpers ---------------------------------------------------------------------------

    def _control(self, opcode: Opcode, payload: bytes) -> bytes:
        return client_frame(opcode, payload, _MASKS.randbytes(4))

    def _write_control(self, opcode: Opcode, payload: bytes) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(self._control(opcode, payload))

    def _flush(self, protocol: ClientProtocol) -> None:
        data = b"".join(protocol.data_to_send())  # b"" asks for EOF: the abort does that
        if data and self._transport is not None and not self._transport.is_closing():
            self._transport.write(data)

    def _fail(self, exc: BaseException) -> None:
        self.failure = exc
        if not self.opened.done():
            self.opened.set_exception(exc)
        else:
            self.on_failure(exc)
        self.abort()


async def open_raw(url: str, address: str, compression: bool, path: str = "") -> RawClient:
    """A :class:`RawClient` to ``url`` + ``path`` from the loopback source ``address``."""
    uri = parse_uri(loopback_url(url) + path)
    extensions = enable_client_permessage_deflate(None) if compression else None
    protocol = ClientProtocol(uri, extensions=extensions, max_size=DEFAULT_MAX_SIZE)
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(OPEN_TIMEOUT):
        transport, client = await loop.create_connection(
            lambda: RawClient(protocol), uri.host, uri.port, local_addr=(loopback(address), 0)
        )
        try:
            await client.opened
        except BaseException:
            transport.abort()
            raise
    return client
