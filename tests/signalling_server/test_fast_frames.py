"""The fast frame path reads and writes exactly what websockets' own parser would.

Two sessions, one with the fast path and one sending every frame through
websockets' ``ServerProtocol``, are fed the same random frame sequences split
at random points. They must hand the node the same messages in the same order,
write the same bytes, and close the same way, whatever the frames are: common
text, invalid UTF-8, binary, fragments, pings, pongs, closes, reserved bits,
unmasked frames, unknown opcodes, frames above the size limit.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import struct
from dataclasses import dataclass, field
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st
from websockets.frames import Frame, Opcode
from websockets.protocol import State
from websockets.server import ServerProtocol

from signalling_server.config import Limits, ServerConfig, Timeouts
from signalling_server.ids import ConnectionId
from signalling_server.node import Outlet
from signalling_server.transport.fast_frames import FastFrameReader, server_text_frame
from signalling_server.transport.websocket import WebsocketSession
from tests.signalling_server.transport_harness import EchoCodec

#: Small, so that frames above the limit come up often.
MAX_SIZE = 600
#: A text message that makes the node close the connection (as a rule would).
CLOSE_ME = "close-me"


def frame_bytes(
    opcode: int,
    payload: bytes,
    *,
    fin: bool = True,
    rsv: int = 0,
    masked: bool = True,
    length_form: int = 0,
    mask: bytes = b"\x01\x02\x03\x04",
) -> bytes:
    """A client frame as bytes; ``length_form`` 16 or 64 forces a longer length field."""
    head = bytes([(0x80 if fin else 0) | (rsv << 4) | opcode])
    mask_bit = 0x80 if masked else 0
    length = len(payload)
    if length_form == 64 or length > 65535:
        head += bytes([mask_bit | 127]) + struct.pack("!Q", length)
    elif length_form == 16 or length > 125:
        head += bytes([mask_bit | 126]) + struct.pack("!H", length)
    else:
        head += bytes([mask_bit | length])
    if not masked:
        return head + payload
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return head + mask + body


def text(message: str, **options: Any) -> bytes:
    return frame_bytes(Opcode.TEXT, message.encode(), **options)


@dataclass
class RecordingTransport:
    """The socket end of a session: records what is written and how it ends."""

    written: list[bytes] = field(default_factory=list)
    closing: bool = False
    aborted: bool = False
    #: A client that never reads: everything written stays in the buffer.
    stuck: bool = False

    def write(self, data: bytes) -> None:
        assert not self.closing, "written after close"
        self.written.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True

    def abort(self) -> None:
        self.closing = self.aborted = True

    def get_write_buffer_size(self) -> int:
        return sum(map(len, self.written)) if self.stuck else 0


@dataclass
class RecordingNode:
    """The node: records messages, echoes text back, closes on ``close-me``."""

    received: list[str | bytes] = field(default_factory=list)
    outlet: Outlet | None = None

    def attach(self, address: str, codec: object, outlet: Outlet) -> ConnectionId:
        self.outlet = outlet
        return ConnectionId("client")

    def receive(self, connection_id: ConnectionId, frame: str | bytes) -> None:
        self.received.append(frame)
        assert self.outlet is not None
        if frame == CLOSE_ME:
            self.outlet.close(1000, "asked to")
        elif isinstance(frame, str):
            self.outlet.send(frame.encode())

    def detach(self, connection_id: ConnectionId) -> None:
        pass


@dataclass
class Outcome:
    """Everything a client or the node could observe of one session."""

    received: list[str | bytes]
    written: bytes
    closing: bool
    aborted: bool
    state: State
    close_rcvd: object
    close_sent: object
    errors: list[str]


def config() -> ServerConfig:
    return ServerConfig(
        limits=dataclasses.replace(Limits(), send_buffer_bytes=2000),
        timeouts=dataclasses.replace(Timeouts(), ping_interval=3600.0),
    )


async def run_session(chunks: list[bytes], eof: bool, stuck: bool, fast: bool) -> Outcome:
    transport = RecordingTransport(stuck=stuck)
    protocol = ServerProtocol(state=State.OPEN, max_size=MAX_SIZE)
    node = RecordingNode()
    session = WebsocketSession(
        transport,  # type: ignore[arg-type]
        protocol,
        node,
        config(),
        fast_frames=fast,
    )
    session.open("127.0.0.1", EchoCodec())
    errors = []
    try:
        for chunk in chunks:
            if transport.aborted:
                break
            try:
                session.data_received(chunk)
            except Exception as exc:  # the same failure either way is what counts
                errors.append(type(exc).__name__)
        if eof and not transport.aborted:
            try:
                session.eof_received()
            except Exception as exc:
                errors.append(type(exc).__name__)
    finally:
        session.connection_lost()
    return Outcome(
        node.received,
        b"".join(transport.written),
        transport.closing,
        transport.aborted,
        protocol.state,
        protocol.close_rcvd,
        protocol.close_sent,
        errors,
    )


def both(chunks: list[bytes], eof: bool = False, stuck: bool = False) -> tuple[Outcome, Outcome]:
    async def compare() -> tuple[Outcome, Outcome]:
        fast = await run_session(chunks, eof, stuck, fast=True)
        generic = await run_session(chunks, eof, stuck, fast=False)
        return fast, generic

    return asyncio.run(compare())


# Strategies ---------------------------------------------------------------------------

masks = st.binary(min_size=4, max_size=4)
common_text = st.builds(
    lambda message, mask: text(message, mask=mask),
    st.one_of(st.text(max_size=200), st.sampled_from([CLOSE_ME, '{"action":"ping"}'])),
    masks,
)
any_frame = st.builds(
    lambda opcode, payload, fin, rsv, masked, form, mask: frame_bytes(
        opcode, payload, fin=fin, rsv=rsv, masked=masked, length_form=form, mask=mask
    ),
    st.sampled_from([0, 1, 1, 1, 2, 3, 7, 8, 9, 10, 11, 15]),
    st.one_of(
        st.text(max_size=40).map(str.encode),
        st.binary(max_size=40),
        st.binary(min_size=MAX_SIZE - 2, max_size=MAX_SIZE + 2),
        st.builds(
            lambda code, reason: struct.pack("!H", code) + reason.encode(),
            st.sampled_from([1000, 1001, 1002, 1005, 3000, 4999, 999]),
            st.text(max_size=20),
        ),
    ),
    st.booleans(),
    st.sampled_from([0, 0, 0, 0, 1, 4]),
    st.sampled_from([True, True, True, False]),
    st.sampled_from([0, 0, 16, 64]),
    masks,
)
frames = st.lists(st.one_of(common_text, common_text, any_frame), max_size=12)


def split(stream: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({0, len(stream), *(cut % (len(stream) + 1) for cut in cuts)})
    return [stream[a:b] for a, b in itertools.pairwise(points)]


@settings(max_examples=250, deadline=None)
@given(
    frames,
    st.lists(st.integers(min_value=0, max_value=10_000), max_size=8),
    st.booleans(),
    st.booleans(),
)
@example([text("hello"), text("world")], [], False, False)
@example([text("a"), frame_bytes(Opcode.PING, b"p"), text("b")], [3, 9], False, False)
@example([text("x" * 300, length_form=64), text("y")], [1, 2, 3], True, False)
@example([frame_bytes(Opcode.TEXT, b"\xff\xfe"), text("after")], [], False, False)
@example([text("frag", fin=False), frame_bytes(Opcode.CONT, b"ment"), text("z")], [5], False, False)
@example([text(CLOSE_ME), text("late")], [], False, False)
@example([text("echo me " * 40)] * 8, [], False, True)
@example([text("cut"), text("tail")], [4], True, False)
def test_fast_path_matches_websockets_parser(
    sequence: list[bytes], cuts: list[int], eof: bool, stuck: bool
) -> None:
    """Any frames, split anywhere: same messages, bytes written and close as websockets alone."""
    stream = b"".join(sequence)
    fast, generic = both(split(stream, cuts), eof=eof, stuck=stuck)
    assert fast == generic


@settings(max_examples=250, deadline=None)
@given(frames, st.booleans())
@example([text("x" * 125), text("y" * 126), text("z" * 300, length_form=64)], False)
@example([frame_bytes(Opcode.TEXT, b"\xff\xfe"), text("after")], False)
@example([text("one", mask=b"\x00\x00\x00\x00"), text(CLOSE_ME), text("late")], True)
def test_one_frame_per_read_matches_websockets_parser(sequence: list[bytes], eof: bool) -> None:
    """Each frame in a read of its own (the common case on a paced link): as websockets alone."""
    fast, generic = both(sequence, eof=eof)
    assert fast == generic


def test_common_frames_skip_websockets_parser() -> None:
    """Common text frames, whole or split, come out decoded by the fast path; a ping does not."""
    protocol = ServerProtocol(state=State.OPEN, max_size=MAX_SIZE)
    reader = FastFrameReader(protocol)
    first = reader.feed(text("one") + text("twó" * 60) + text("thr"))
    assert first == ["one", "twó" * 60, "thr"]
    assert reader.feed(text("four")[:3]) == []
    assert reader.feed(text("four")[3:] + frame_bytes(Opcode.PING, b"p")) == [
        "four",
        Frame(Opcode.PING, b"p"),
    ]
    assert protocol.data_to_send() == [b"\x8a\x01p"]  # websockets answered the ping
    # One whole frame in one read, at both length forms; invalid UTF-8 comes as websockets'
    # frame (the session fails the connection with 1007).
    assert reader.feed(text("five")) == ["five"]
    assert reader.feed(text("s" * 300)) == ["s" * 300]
    assert reader.feed(frame_bytes(Opcode.TEXT, b"\xff")) == [Frame(Opcode.TEXT, b"\xff")]


def test_server_text_frame_is_what_websockets_writes() -> None:
    """The frames the fast path writes are byte for byte websockets' own, at every length form."""
    for size in (0, 1, 125, 126, 300, 1023, 1024, 65535, 65536):
        payload = b"x" * size
        protocol = ServerProtocol(state=State.OPEN)
        protocol.send_text(payload)
        assert server_text_frame(payload) == b"".join(protocol.data_to_send())
