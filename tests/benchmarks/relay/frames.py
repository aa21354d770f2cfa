"""The light load generator's websocket frame codec: masked client frames out, server frames in.

Sans-I/O: :func:`client_frame` returns bytes to write, :class:`ServerFrameReader`
is fed the bytes read and returns whole messages and control frames. It knows
no extensions (a connection that negotiated one stays on websockets' own
protocol, see ``raw_client.py``), so a server frame with a reserved bit set, a
masked one, a reserved opcode, a control frame that is fragmented or longer
than 125 bytes, a continuation with nothing to continue, a new message inside a
fragmented one, or a message past ``max_size`` is a :class:`FrameError`, never
skipped.
"""

from __future__ import annotations

import enum
import struct

from websockets.speedups import apply_mask

from .errors import BenchmarkError

#: What a server may send us in one message (our relayed frames are ~350 bytes).
DEFAULT_MAX_SIZE = 1 << 20

_FIN = 0x80
_MASK = 0x80
_RSV = 0x70
_U16 = struct.Struct("!H")
_U64 = struct.Struct("!Q")


class Opcode(enum.IntEnum):
    """The frame opcodes of RFC 6455."""

    CONTINUATION = 0x0
    TEXT = 0x1
    BINARY = 0x2
    CLOSE = 0x8
    PING = 0x9
    PONG = 0xA


_DATA = frozenset((Opcode.TEXT, Opcode.BINARY))
_CONTROL = frozenset((Opcode.CLOSE, Opcode.PING, Opcode.PONG))
_OPCODES = {int(opcode): opcode for opcode in Opcode}


class FrameError(BenchmarkError):
    """A server frame the generator must not accept (the connection is failed)."""


def client_frame(opcode: Opcode, payload: bytes, mask: bytes) -> bytes:
    """One final client frame: ``payload`` masked with the 4-byte ``mask``."""
    length = len(payload)
    if length < 126:
        header = bytes((_FIN | opcode, _MASK | length))
    elif length < 1 << 16:
        header = bytes((_FIN | opcode, _MASK | 126)) + _U16.pack(length)
    else:
        header = bytes((_FIN | opcode, _MASK | 127)) + _U64.pack(length)
    return header + mask + apply_mask(payload, mask)


def text_frame(text: str, mask: bytes) -> bytes:
    """A final, masked client text frame (the generator's every message)."""
    return client_frame(Opcode.TEXT, text.encode(), mask)


class ServerFrameReader:
    """Parses the server's unmasked frames; reassembles fragmented messages.

    :meth:`feed` returns ``(opcode, payload)`` pairs in arrival order: TEXT or
    BINARY with a whole message's payload, or a control frame (CLOSE, PING,
    PONG) as it came, for the connection to answer.
    """

    __slots__ = ("_buffer", "_fragment_opcode", "_fragments", "max_size")

    def __init__(self, max_size: int = DEFAULT_MAX_SIZE) -> None:
        self.max_size = max_size
        self._buffer = b""
        self._fragments: list[bytes] = []
        self._fragment_opcode: Opcode | None = None

    def feed(self, data: bytes) -> list[tuple[Opcode, bytes]]:
        """Take the bytes read; return every message and control frame now complete."""
        buffer = self._buffer + data if self._buffer else data
        size = len(buffer)
        out: list[tuple[Opcode, bytes]] = []
        start = 0
        while size - start >= 2:
            first, second = buffer[start], buffer[start + 1]
            length = second & 0x7F
            at = start + 2
            if length == 126:
                if size - at < 2:
                    break
                (length,) = _U16.unpack_from(buffer, at)
                at += 2
            elif length == 127:
                if size - at < 8:
                    break
                (length,) = _U64.unpack_from(buffer, at)
                at += 8
            if first & _RSV:
                raise FrameError(f"reserved bits set (0x{first:02x}) without an extension")
            if second & _MASK:
                raise FrameError("a masked frame from the server")
            if length > self.max_size:
                raise FrameError(f"a {length}-byte frame is over the {self.max_size}-byte limit")
            end = at + length
            if end > size:
                break
            self._frame(first, buffer[at:end], out)
            start = end
        self._buffer = buffer[start:] if start < size else b""
        return out

    def _frame(self, first: int, payload: bytes, out: list[tuple[Opcode, bytes]]) -> None:
        fin = first & _FIN
        opcode = _OPCODES.get(first & 0x0F)
        if opcode is None:
            raise FrameError(f"reserved opcode 0x{first & 0x0F:x}")
        if opcode in _CONTROL:
            if not fin:
                raise FrameError(f"a fragmented {opcode.name} frame")
            if len(payload) > 125:
                raise FrameError(f"a {len(payload)}-byte {opcode.name} frame (at most 125)")
            out.append((opcode, payload))
            return
        if opcode is Opcode.CONTINUATION:
            if self._fragment_opcode is None:
                raise FrameError("a continuation frame with no message to continue")
            self._fragments.append(payload)
            if sum(len(part) for part in self._fragments) > self.max_size:
                raise FrameError(f"a fragmented message over the {self.max_size}-byte limit")
            if fin:
                out.append((self._fragment_opcode, b"".join(self._fragments)))
                self._fragments = []
                self._fragment_opcode = None
            return
        if self._fragment_opcode is not None:
            raise FrameError(f"a {opcode.name} frame inside a fragmented message")
        if fin:
            out.append((opcode, payload))
        else:
            self._fragment_opcode = opcode
            self._fragments = [payload]


def close_code(payload: bytes) -> int | None:
    """The status code of a CLOSE frame's payload (None when it has none)."""
    if not payload:
        return None
    if len(payload) == 1:
        raise FrameError("a CLOSE frame with a 1-byte payload")
    code: int = _U16.unpack_from(payload)[0]
    return code
