"""The light load generator's frame codec agrees with websockets, and refuses what it must.

Client frames it writes are parsed by websockets' own ``ServerProtocol``;
server frames websockets writes (whole, fragmented, with pings between them,
split at random points) come out of ``ServerFrameReader`` as the same messages;
every frame a client without extensions must not accept is a ``FrameError``.
"""

from __future__ import annotations

import itertools
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st
from websockets.frames import Frame
from websockets.frames import Opcode as WebsocketsOpcode
from websockets.protocol import State
from websockets.server import ServerProtocol

from tests.benchmarks.relay.frames import (
    FrameError,
    Opcode,
    ServerFrameReader,
    client_frame,
    close_code,
    text_frame,
)

MAX_SIZE = 70_000


def server_side() -> ServerProtocol:
    """websockets' server protocol past its handshake, as it reads a client's frames."""
    return ServerProtocol(state=State.OPEN, max_size=None)


def frames_read(protocol: ServerProtocol, data: bytes) -> list[Frame]:
    """The frames websockets' server protocol reads from ``data``."""
    protocol.receive_data(data)
    events = protocol.events_received()
    assert all(isinstance(event, Frame) for event in events)
    return [event for event in events if isinstance(event, Frame)]


def server_frame(
    opcode: int, payload: bytes, *, fin: bool = True, rsv: int = 0, masked: bool = False
) -> bytes:
    """A frame as a server (or a broken one) would write it."""
    head = bytes([(0x80 if fin else 0) | (rsv << 4) | opcode])
    mask_bit = 0x80 if masked else 0
    length = len(payload)
    if length > 65535:
        head += bytes([mask_bit | 127]) + struct.pack("!Q", length)
    elif length > 125:
        head += bytes([mask_bit | 126]) + struct.pack("!H", length)
    else:
        head += bytes([mask_bit | length])
    return head + (b"\0\0\0\0" if masked else b"") + payload


def feed_in_pieces(
    reader: ServerFrameReader, data: bytes, cuts: list[int]
) -> list[tuple[Opcode, bytes]]:
    out: list[tuple[Opcode, bytes]] = []
    points = sorted({min(cut, len(data)) for cut in cuts} | {0, len(data)})
    for start, end in itertools.pairwise(points):
        out += reader.feed(data[start:end])
    return out


@given(
    text=st.text(max_size=300)
    | st.builds(lambda t, n: t * n, st.text(min_size=1, max_size=40), st.integers(1, 3000)),
    mask=st.binary(min_size=4, max_size=4),
)
def test_text_frames_parse_in_websockets_as_sent(text: str, mask: bytes) -> None:
    """A masked text frame of any length (7, 16 or 64-bit) reads back the same in websockets."""
    protocol = server_side()
    events = frames_read(protocol, text_frame(text, mask))
    assert protocol.parser_exc is None
    assert [(e.opcode, e.fin, bytes(e.data).decode()) for e in events] == [
        (WebsocketsOpcode.TEXT, True, text)
    ]


@pytest.mark.parametrize(
    ("opcode", "expected"),
    [(Opcode.PING, WebsocketsOpcode.PING), (Opcode.PONG, WebsocketsOpcode.PONG)],
)
def test_control_frames_parse_in_websockets(opcode: Opcode, expected: WebsocketsOpcode) -> None:
    """The pong and ping frames the generator writes are what websockets expects."""
    [event] = frames_read(server_side(), client_frame(opcode, b"beat", b"\x10\x20\x30\x40"))
    assert (event.opcode, bytes(event.data)) == (expected, b"beat")


def test_close_frame_is_a_normal_closure_for_websockets() -> None:
    """The generator's close frame closes websockets' side with code 1000."""
    protocol = server_side()
    protocol.receive_data(client_frame(Opcode.CLOSE, (1000).to_bytes(2, "big"), b"abcd"))
    assert protocol.close_rcvd is not None and protocol.close_rcvd.code == 1000


messages = st.lists(
    st.tuples(
        st.sampled_from([Opcode.TEXT, Opcode.BINARY]),
        st.binary(max_size=400)
        | st.builds(lambda b, n: b * n, st.binary(min_size=1, max_size=40), st.integers(1, 1700)),
        st.integers(min_value=1, max_value=4),  # fragments
        st.booleans(),  # a ping between its fragments
    ),
    max_size=6,
)


@given(sent=messages, cuts=st.lists(st.integers(min_value=0, max_value=300_000), max_size=12))
def test_server_frames_from_websockets_come_out_whole(
    sent: list[tuple[Opcode, bytes, int, bool]], cuts: list[int]
) -> None:
    """Messages websockets writes, fragmented with pings between, split anyhow: same messages."""
    wire = b""
    expected: list[tuple[Opcode, bytes]] = []
    for opcode, payload, fragments, ping in sent:
        size = -(-len(payload) // fragments) or 1
        parts = [payload[i : i + size] for i in range(0, len(payload), size)] or [b""]
        for index, part in enumerate(parts):
            frame_opcode = WebsocketsOpcode(opcode) if index == 0 else WebsocketsOpcode.CONT
            frame = Frame(frame_opcode, part, fin=index == len(parts) - 1)
            wire += frame.serialize(mask=False)
            if index == len(parts) - 1:
                expected.append((opcode, payload))
            if ping and index == 0:  # between fragments, or after a whole message
                wire += Frame(WebsocketsOpcode.PING, b"p").serialize(mask=False)
                expected.append((Opcode.PING, b"p"))
    reader = ServerFrameReader(MAX_SIZE)
    assert feed_in_pieces(reader, wire, cuts) == expected


def test_close_code_is_read_from_the_payload() -> None:
    """A close frame's code is read; one without a code is fine; one byte is an error."""
    assert close_code(struct.pack("!H", 1001) + b"going away") == 1001
    assert close_code(b"") is None
    with pytest.raises(FrameError):
        close_code(b"\x03")


@pytest.mark.parametrize(
    ("wire", "complaint"),
    [
        (server_frame(0x1, b"hi", rsv=4), "reserved bits"),
        (server_frame(0x1, b"hi", masked=True), "masked"),
        (server_frame(0x3, b"hi"), "reserved opcode"),
        (server_frame(0x9, b"x" * 126), "at most 125"),
        (server_frame(0x9, b"x", fin=False), "fragmented PING"),
        (server_frame(0x0, b"tail"), "no message to continue"),
        (server_frame(0x1, b"a", fin=False) + server_frame(0x1, b"b"), "inside a fragmented"),
        (server_frame(0x1, b"x" * (MAX_SIZE + 1))[:10], "over the"),
        (
            server_frame(0x2, b"x" * 40_000, fin=False) + server_frame(0x0, b"y" * 40_000),
            "fragmented message over",
        ),
    ],
)
def test_frames_a_client_must_refuse_are_errors(wire: bytes, complaint: str) -> None:
    """Each frame a server must not send, or past the size limit, raises FrameError."""
    reader = ServerFrameReader(MAX_SIZE)
    with pytest.raises(FrameError, match=complaint):
        reader.feed(wire)


def test_an_oversize_frame_is_refused_from_its_header_alone() -> None:
    """The size limit is checked before the payload is buffered."""
    reader = ServerFrameReader(1000)
    with pytest.raises(FrameError, match="over the 1000-byte limit"):
        reader.feed(b"\x81\x7f" + struct.pack("!Q", 1 << 40))
