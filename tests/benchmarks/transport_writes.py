"""Coalesced writes against one write per frame: the transport's CPU per relayed frame.

Run: ``.venv/bin/python -m tests.benchmarks.transport_writes [--loop uvloop] [--reps N]``

Two :class:`~signalling_server.transport.websocket.WebsocketSession` objects
sit on real socket pairs in this process; a relay node hands every text frame
the first one reads to the second one's outlet, whose socket the benchmark
drains after each read. Measured in the same run, repetitions interleaved: the
session as it is (each destination's frames of one read in one ``write()``)
and a baseline session that writes each frame as it is sent (how the transport
wrote before coalescing), at 1, 4 and 8 frames of 250 bytes per read. The
report gives the median process CPU microseconds per frame (registry, codecs
and the event loop's reads left out: only the transport and the writes) and
the ratio coalesced / per frame.
"""

from __future__ import annotations

import functools
import time

from websockets.frames import Frame, Opcode
from websockets.protocol import State

from signalling_server.codecs import Codec
from signalling_server.config import ServerConfig, Timeouts
from signalling_server.ids import ConnectionId
from signalling_server.node import Outlet
from signalling_server.transport.fast_frames import server_text_frame
from signalling_server.transport.websocket import WebsocketSession

from .socket_sessions import interleaved, loop_and_reps, socket_sessions

FRAMES_PER_REPETITION = 20_000
PAYLOAD = "x" * 250


class WritePerFrame(WebsocketSession):
    """The baseline: each frame written with its own ``write()`` as it is sent."""

    __slots__ = ()

    def send(self, frame: bytes) -> bool:
        transport = self._transport
        if self._protocol.state is not State.OPEN or transport.is_closing():
            return False
        transport.write(server_text_frame(frame))
        if transport.get_write_buffer_size() > self._send_buffer_bytes:
            self.close(1013, "too slow to keep up")
        return True


class RelayNode:
    """Hands each text frame of ``c0`` to ``c1``."""

    def __init__(self) -> None:
        self.outlets: dict[ConnectionId, Outlet] = {}

    def attach(self, address: str, codec: Codec, outlet: Outlet) -> ConnectionId:
        connection_id = ConnectionId(f"c{len(self.outlets)}")
        self.outlets[connection_id] = outlet
        return connection_id

    def receive(self, connection_id: ConnectionId, frame: str | bytes) -> None:
        assert isinstance(frame, str)
        self.outlets[ConnectionId("c1")].send(frame.encode())

    def detach(self, connection_id: ConnectionId) -> None:
        self.outlets.pop(connection_id, None)


async def us_per_frame(session_type: type[WebsocketSession], per_read: int) -> float:
    """Process CPU microseconds per relayed frame, ``per_read`` frames in each read."""
    config = ServerConfig(timeouts=Timeouts(ping_interval=3600.0))
    async with socket_sessions(RelayNode(), config, None, 2, session_type) as (reader, receiver):
        chunk = Frame(Opcode.TEXT, PAYLOAD.encode()).serialize(mask=True, extensions=[]) * per_read
        reads = FRAMES_PER_REPETITION // per_read
        started = time.process_time()
        for _ in range(reads):
            reader.session.data_received(chunk)
            receiver.drain()
        spent = time.process_time() - started
    return 1e6 * spent / (reads * per_read)


def main() -> None:
    factory, reps = loop_and_reps(
        "python -m tests.benchmarks.transport_writes", "asyncio", FRAMES_PER_REPETITION
    )
    print("| frames per read | per frame, us | coalesced, us | coalesced / per frame |")
    print("|---:|---:|---:|---:|")
    for per_read in (1, 4, 8):
        baseline, coalesced, ratio = interleaved(
            reps,
            factory,
            functools.partial(us_per_frame, WritePerFrame, per_read),
            functools.partial(us_per_frame, WebsocketSession, per_read),
        )
        print(f"| {per_read} | {baseline:.2f} | {coalesced:.2f} | {ratio:.2f}x |")


if __name__ == "__main__":
    main()
