"""The common websocket frame, read and written without websockets' generic parser.

Nearly every frame a signalling client sends is small, final, masked text with
no extension in play. :class:`FastFrameReader` splits the byte stream into
frames itself, decodes those common ones directly (header, unmask, UTF-8), and
hands every other frame to websockets' :class:`~websockets.server.ServerProtocol`
from its first byte to its last (as it arrives: a large frame is not held), so
websockets' parser stands at a frame boundary whenever a common frame comes and
sees each other frame exactly as it would have: control frames, fragments,
binary, close, large frames, reserved bits and invalid UTF-8 all keep
websockets' handling. A header
websockets refuses as soon as it reads it (an unknown opcode, an unmasked
frame, a length above the limit) hands everything from there to websockets for
good. Like ``receive_data`` followed by ``events_received``, :meth:`feed` parses
all that arrived before anything is delivered, and returns the messages and
websockets' frames in order. A read that is exactly one common frame (what a
client on schedule sends: one message per read) is decoded without the loop.
tests/signalling_server/test_fast_frames.py fuzzes this against websockets'
parser alone: same messages, same bytes sent, same closes.

:func:`server_text_frame_header` is the sending side: the header of an
unmasked final text frame, written before the payload (no copy of it is made).
"""

from __future__ import annotations

from websockets.frames import Frame, Opcode
from websockets.protocol import State
from websockets.server import ServerProtocol

try:
    from websockets.speedups import apply_mask
except ImportError:  # websockets built without its C extension
    from websockets.utils import apply_mask

#: FIN set, no reserved bits, opcode TEXT: the first byte of the common frame.
_FINAL_TEXT = 0x80 | Opcode.TEXT
_MASKED = 0x80
_VALID_OPCODES = frozenset(int(opcode) for opcode in Opcode)
_OPEN = State.OPEN


class FastFrameReader:
    """Reads a client's frames: common text frames here, every other one through websockets."""

    __slots__ = ("_frame_limit", "_owed", "_passthrough", "_pending", "_protocol")

    def __init__(self, protocol: ServerProtocol) -> None:
        self._protocol = protocol
        # The limit on a frame outside a fragmented message (fixed for the connection).
        self._frame_limit = self._size_limit()
        # Bytes of a common frame (or header) not complete yet: websockets has not seen them.
        self._pending = b""
        # Bytes still to come of a frame websockets is reading.
        self._owed = 0
        # Set once websockets has been handed bytes that are not whole frames.
        self._passthrough = bool(protocol.extensions)

    def feed(self, data: bytes) -> list[str | Frame]:
        """What ``data`` completes, in order: common text messages decoded, other frames parsed."""
        protocol = self._protocol
        if self._passthrough:
            return self._through_websockets(data)
        if not self._owed and not self._pending:
            one = self._one_common_frame(data)
            if one is not None:
                return one
        received: list[str | Frame] = []
        if self._owed:
            if self._owed >= len(data):
                self._owed -= len(data)
                return self._through_websockets(data)
            received += self._through_websockets(data[: self._owed])
            data = data[self._owed :]
            self._owed = 0
        elif self._pending:
            data = self._pending + data
            self._pending = b""
        size = len(data)
        pos = 0
        while size - pos >= 2:
            first = data[pos]
            second = data[pos + 1]
            if first & 0x0F not in _VALID_OPCODES or not second & _MASKED:
                # websockets fails the connection on these two bytes alone.
                self._passthrough = True
                received += self._through_websockets(data[pos:])
                return received
            length = second & 0x7F
            common = first == _FINAL_TEXT and length != 127  # final text, a 7 or 16 bit length
            head = pos + 2
            if length == 126:
                if size - pos < 4:
                    break
                length = data[head] << 8 | data[head + 1]  # no slice to allocate
                head += 2
            elif length == 127:
                if size - pos < 10:
                    break
                length = int.from_bytes(data[head : head + 8])
                head += 8
            limit = self._frame_limit if protocol.current_size is None else self._size_limit()
            if limit is not None and length > limit:
                # ... and on a length above its limit, before the payload arrives.
                self._passthrough = True
                received += self._through_websockets(data[pos:])
                return received
            end = head + 4 + length
            if not common:
                if end > size:  # websockets reads the rest as it comes
                    self._owed = end - size
                    received += self._through_websockets(data[pos:])
                    return received
                received += self._through_websockets(data[pos:end])
                pos = end
                continue
            if end > size:
                break
            if protocol.state is _OPEN and protocol.current_size is None:
                payload = apply_mask(data[head + 4 : end], data[head : head + 4])
                try:
                    received.append(payload.decode())
                except UnicodeDecodeError:
                    # The session fails it with 1007, as it does websockets' frames.
                    received += self._through_websockets(data[pos:end])
            else:
                received += self._through_websockets(data[pos:end])
            pos = end
        if pos < size:
            self._pending = data[pos:]
        return received

    def _one_common_frame(self, data: bytes) -> list[str | Frame] | None:
        """``data`` as one common frame, exactly (most reads); ``None``: anything else."""
        size = len(data)
        if size < 6 or data[0] != _FINAL_TEXT:
            return None
        length = data[1] ^ _MASKED  # the mask bit cleared; set, or this is above 127
        if length < 126:
            head = 2
        elif length == 126 and size >= 8:
            length = data[2] << 8 | data[3]
            head = 4
        else:
            return None
        if size != head + 4 + length:
            return None
        limit = self._frame_limit
        protocol = self._protocol
        if (
            (limit is not None and length > limit)
            or protocol.current_size is not None
            or protocol.state is not _OPEN
        ):
            return None
        try:
            return [apply_mask(data[head + 4 :], data[head : head + 4]).decode()]
        except UnicodeDecodeError:
            return None  # the general path hands it to websockets, which fails it

    def flush(self) -> list[str | Frame]:
        """Hand websockets a common frame still incomplete (the stream is ending)."""
        self._passthrough = True
        pending, self._pending = self._pending, b""
        return self._through_websockets(pending) if pending else []

    def _through_websockets(self, data: bytes) -> list[str | Frame]:
        protocol = self._protocol
        protocol.receive_data(data)
        # Once open, a server protocol only ever parses frames.
        return protocol.events_received()  # type: ignore[return-value]

    def _size_limit(self) -> int | None:
        # The limit websockets' parser applies to the next frame's length.
        protocol = self._protocol
        limit = protocol.max_message_size
        if limit is not None and protocol.current_size is not None:
            limit -= protocol.current_size
        fragment = protocol.max_fragment_size
        if fragment is not None:
            limit = fragment if limit is None else min(limit, fragment)
        return limit


#: The headers of final text frames, by payload length (server frames: no mask).
#: Signalling frames are mostly shorter than this; 45 KiB once per process.
TEXT_FRAME_HEADERS = tuple(
    bytes((_FINAL_TEXT, length)) if length < 126 else bytes((_FINAL_TEXT, 126)) + length.to_bytes(2)
    for length in range(1024)
)


def server_text_frame_header(length: int) -> bytes:
    """The header of a final, unmasked text frame of ``length`` bytes (server to client)."""
    if length < 1024:
        return TEXT_FRAME_HEADERS[length]
    if length < 65536:
        return bytes((_FINAL_TEXT, 126)) + length.to_bytes(2)
    return bytes((_FINAL_TEXT, 127)) + length.to_bytes(8)


def server_text_frame(payload: bytes) -> bytes:
    """A final, unmasked text frame carrying ``payload`` (server to client)."""
    return server_text_frame_header(len(payload)) + payload


__all__ = [
    "TEXT_FRAME_HEADERS",
    "FastFrameReader",
    "server_text_frame",
    "server_text_frame_header",
]
