"""One open websocket: websockets' sans-I/O protocol driven straight from the socket.

Bytes from the socket go into :class:`websockets.server.ServerProtocol`; the
frames it parses go to the node, and the bytes it wants sent go to the
transport, all inside ``data_received``: no task, queue or ``recv()`` per
connection. The session is also the connection's :class:`Outlet`: the frames
the node sends it are queued, and a :class:`~.coalescing.WriteCoalescer` has
each connection's queue written in one ``transport.write`` at the end of the
read that produced them (or the loop turn, for frames sent outside a read).
Everything a session writes goes through that queue, in order: frames, what
websockets has to send (pongs, close frames), then the end of the stream. The
slow-reader limit counts queued bytes with the transport's buffer.

The common frame (small, final, masked text) is read and written by
:mod:`.fast_frames` without websockets' generic parser; every other frame still
goes through websockets, in order.

Keepalive and closing run on ``loop.call_later`` handles: a ping every
``ping_interval`` seconds, a close (1011) when its pong is ``ping_timeout``
late, and an abort when a closing handshake takes longer than ``close_timeout``.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from typing import TYPE_CHECKING, Protocol, cast

from websockets.frames import CloseCode, Frame, Opcode
from websockets.protocol import State
from websockets.server import ServerProtocol

from ..codecs import Codec
from ..config import ServerConfig
from ..effects import CLOSE_TOO_SLOW
from ..ids import ConnectionId
from .coalescing import WriteCoalescer
from .fast_frames import TEXT_FRAME_HEADERS, FastFrameReader, server_text_frame_header

if TYPE_CHECKING:
    from ..node import Outlet

logger = logging.getLogger(__name__)


_TEXT, _BINARY, _CONT, _PONG = Opcode.TEXT, Opcode.BINARY, Opcode.CONT, Opcode.PONG
_OPEN = State.OPEN
_HEADERS = TEXT_FRAME_HEADERS
_TABLED = len(TEXT_FRAME_HEADERS)
#: A queue this large is written at once: larger writes save nothing more, and
#: a burst (a large answer, a long read) reaches the socket as it did unqueued.
WRITE_AT_BYTES = 64 * 1024


class _InvalidText(Exception):
    """A text message that is not UTF-8: the connection fails with 1007."""


class ConnectionSink(Protocol):
    """What a transport needs of the node: hand it clients and what they send."""

    def attach(self, address: str, codec: Codec, outlet: Outlet) -> ConnectionId: ...

    def receive(self, connection_id: ConnectionId, frame: str | bytes) -> None: ...

    def detach(self, connection_id: ConnectionId) -> None: ...


class WebsocketSession:
    """An accepted websocket on one TCP connection; the node's outlet for it."""

    __slots__ = (
        "_close_timer",
        "_coalescer",
        "_detached",
        "_fast",
        "_fragments",
        "_fragments_text",
        "_loop",
        "_ping_payload",
        "_ping_timer",
        "_pong_timer",
        "_protocol",
        "_queue",
        "_queued_bytes",
        "_send_buffer_bytes",
        "_sink",
        "_transport",
        "config",
        "connection_id",
    )

    def __init__(
        self,
        transport: asyncio.Transport,
        protocol: ServerProtocol,
        sink: ConnectionSink,
        config: ServerConfig,
        *,
        fast_frames: bool = True,
        coalescer: WriteCoalescer | None = None,
    ) -> None:
        self.config = config
        self._transport = transport
        self._protocol = protocol
        # Off where websockets must see every frame: an extension, or its frame log.
        self._fast = (
            FastFrameReader(protocol)
            if fast_frames and not protocol.extensions and not protocol.debug
            else None
        )
        self._sink = sink
        self._loop = asyncio.get_running_loop()
        self._send_buffer_bytes = config.limits.send_buffer_bytes
        #: The listener's (shared by its sessions), or one of its own.
        self._coalescer = coalescer or WriteCoalescer()
        # Bytes to write in order, not written yet; a frame is its header and payload.
        self._queue: list[bytes] = []
        self._queued_bytes = 0
        self.connection_id: ConnectionId | None = None
        self._detached = False
        # A fragmented message being put together (rare: browsers send whole messages).
        self._fragments: list[bytes] | None = None
        self._fragments_text = False
        self._ping_payload: bytes | None = None
        self._ping_timer: asyncio.TimerHandle | None = None
        self._pong_timer: asyncio.TimerHandle | None = None
        self._close_timer: asyncio.TimerHandle | None = None

    def open(self, address: str, codec: Codec) -> ConnectionId:
        """Attach to the node and start the keepalive; the handshake reply is already written."""
        self.connection_id = self._sink.attach(address, codec, self)
        self._ping_timer = self._loop.call_later(self.config.timeouts.ping_interval, self._ping)
        return self.connection_id

    # The node's outlet -----------------------------------------------------------

    def send(self, frame: bytes) -> bool:
        """Queue one text frame; ``False`` once the websocket is no longer open."""
        protocol = self._protocol
        transport = self._transport
        if protocol.state is not _OPEN or transport.is_closing():
            return False
        queue = self._queue
        if not queue:
            self._coalescer.queued(self)
        if self._fast is not None and not protocol.writes:
            length = len(frame)
            # The common lengths without a call.
            header = _HEADERS[length] if length < _TABLED else server_text_frame_header(length)
            queue.append(header)
            queue.append(frame)
            self._queued_bytes += len(header) + length
        else:  # after what websockets has queued (a pong, say), in order
            protocol.send_text(frame)
            self._queue_protocol_output()
        if self._queued_bytes >= WRITE_AT_BYTES:
            self.write_queued()
        if transport.get_write_buffer_size() + self._queued_bytes > self._send_buffer_bytes:
            logger.warning("closing %s: too slow to read what it is sent", self.connection_id)
            self.close(CLOSE_TOO_SLOW, "too slow to keep up")
        return True

    def close(self, code: int, reason: str) -> None:
        """Start the closing handshake; the TCP connection is aborted if it takes too long."""
        if self._protocol.state is _OPEN:
            self._protocol.send_close(code, reason)
            self._flush()
        self._expect_close()

    def write_queued(self) -> None:
        """Write the queued bytes in one ``write()``; dropped if the connection is aborted."""
        queue = self._queue
        if not queue:
            return
        data = b"".join(queue)
        queue.clear()
        self._queued_bytes = 0
        transport = self._transport
        # Closing here means aborted: every close of ours writes the queue first.
        if not transport.is_closing():
            transport.write(data)

    # From the socket ---------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        """Parse what arrived, hand complete messages to the node, write what is due."""
        coalescer = self._coalescer
        outermost = coalescer.start_read()
        try:
            fast = self._fast
            if fast is None:
                self._protocol.receive_data(data)
                # Once open, a server protocol only ever parses frames.
                received = cast("list[str | Frame]", self._protocol.events_received())
            else:
                received = fast.feed(data)
            if received:
                self._deliver(received)
            protocol = self._protocol
            if protocol.writes:  # a pong, a close: websockets' bytes, after ours
                self._flush()
            if protocol.state is not _OPEN and protocol.close_expected():
                self._expect_close()
        finally:
            if outermost:  # every connection this read sent frames to writes them now
                coalescer.end_read()

    def eof_received(self) -> None:
        """The client closed its side of the TCP connection."""
        coalescer = self._coalescer
        outermost = coalescer.start_read()
        try:
            if self._fast is not None:
                received = self._fast.flush()
                if received:
                    self._deliver(received)
            self._protocol.receive_eof()
            self._flush()
        finally:
            if outermost:
                coalescer.end_read()

    def connection_lost(self) -> None:
        """The TCP connection is gone: stop the timers and detach from the node, once."""
        for timer in (self._ping_timer, self._pong_timer, self._close_timer):
            if timer is not None:
                timer.cancel()
        self._ping_timer = self._pong_timer = self._close_timer = None
        self._drop_queue()
        if not self._detached:
            self._detached = True
            if self.connection_id is not None:
                self._sink.detach(self.connection_id)

    def abort(self) -> None:
        """Drop the TCP connection without a closing handshake, as a network failure would."""
        self._drop_queue()
        self._transport.abort()

    # Inside ---------------------------------------------------------------------------

    def _deliver(self, received: list[str | Frame]) -> None:
        """Hand the node each message (text the fast path decoded, or websockets' frames)."""
        sink = self._sink
        connection_id = self.connection_id
        assert connection_id is not None
        try:
            for item in received:
                if type(item) is str:
                    sink.receive(connection_id, item)
                    continue
                frame = cast("Frame", item)
                opcode = frame.opcode
                if opcode is _TEXT and frame.fin and self._fragments is None:
                    sink.receive(connection_id, _text(frame.data))
                elif opcode is _PONG:
                    self._pong(frame)
                elif opcode is _TEXT or opcode is _BINARY or opcode is _CONT:
                    message = self._assemble(frame)
                    if message is not None:
                        sink.receive(connection_id, message)
                # PING is answered and CLOSE handled by the protocol itself.
        except _InvalidText:
            self._protocol.fail(CloseCode.INVALID_DATA, "text message is not valid UTF-8")

    def _flush(self) -> None:
        """Write the queue and what websockets has to send; close TCP if websockets says so."""
        if self._queue_protocol_output():
            # websockets' end of stream: the server closes TCP once the closing
            # handshake is done (close() still sends what is buffered).
            self.write_queued()
            self._transport.close()
        elif self._queue:
            self.write_queued()

    def _queue_protocol_output(self) -> bool:
        """Queue what websockets has to send; ``True`` when it ends the stream."""
        queue = self._queue
        ended = False
        for data in self._protocol.data_to_send():
            if data:
                if not queue:
                    self._coalescer.queued(self)
                queue.append(data)
                self._queued_bytes += len(data)
            else:
                ended = True
        return ended

    def _drop_queue(self) -> None:
        self._queue.clear()
        self._queued_bytes = 0

    def _expect_close(self) -> None:
        transport = self._transport
        if transport.is_closing() and not transport.get_write_buffer_size():
            return  # closed with nothing left to send: the loss is reported next loop turn
        if self._close_timer is None:
            self._close_timer = self._loop.call_later(
                self.config.timeouts.close_timeout, self._close_timed_out
            )

    def _close_timed_out(self) -> None:
        self._close_timer = None
        logger.debug("aborting %s: the closing handshake timed out", self.connection_id)
        self._transport.abort()

    def _assemble(self, frame: Frame) -> str | bytes | None:
        """A fragmented message's next frame; the whole message once its last frame is in."""
        if frame.opcode is not _CONT:
            self._fragments = []
            self._fragments_text = frame.opcode is _TEXT
        fragments = self._fragments
        if fragments is None:  # websockets refuses a continuation without a start
            return None
        fragments.append(bytes(frame.data))
        if not frame.fin:
            return None
        self._fragments = None
        data = b"".join(fragments)
        return _text(data) if self._fragments_text else data

    def _ping(self) -> None:
        self._ping_timer = None
        if self._protocol.state is not _OPEN:
            return
        if self._ping_payload is None:
            self._ping_payload = payload = secrets.token_bytes(4)
            self._protocol.send_ping(payload)
            self._flush()
            self._pong_timer = self._loop.call_later(
                self.config.timeouts.ping_timeout, self._pong_missing
            )
        self._ping_timer = self._loop.call_later(self.config.timeouts.ping_interval, self._ping)

    def _pong(self, frame: Frame) -> None:
        if self._ping_payload is not None and bytes(frame.data) == self._ping_payload:
            self._ping_payload = None
            if self._pong_timer is not None:
                self._pong_timer.cancel()
                self._pong_timer = None

    def _pong_missing(self) -> None:
        self._pong_timer = None
        logger.info("closing %s: no pong to a keepalive ping", self.connection_id)
        if self._protocol.state is _OPEN:
            # Like websockets' own keepalive: close frame and end of stream at
            # once, the client is not expected to answer any more.
            self._protocol.fail(CloseCode.INTERNAL_ERROR, "keepalive ping timeout")
            self._flush()
        self._expect_close()


def _text(data: bytes | bytearray | memoryview) -> str:
    try:
        return bytes(data).decode()
    except UnicodeDecodeError as exc:
        raise _InvalidText from exc


__all__ = ["CLOSE_TOO_SLOW", "WRITE_AT_BYTES", "ConnectionSink", "WebsocketSession"]
