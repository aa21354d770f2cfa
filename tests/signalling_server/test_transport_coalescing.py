"""Write coalescing: each connection's frames from one read (or loop turn) in one write.

The first tests drive sessions over real sockets on 127.0.0.1 with a scripted
node behind them and check what clients see: order, closes, the slow-reader
limit. The last ones put sessions on recording transports (the socket end of a
session, as in test_fast_frames.py) to see the writes themselves: how many,
and what each carries.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

from websockets.asyncio.client import ClientConnection, connect
from websockets.client import ClientProtocol
from websockets.exceptions import ConnectionClosed
from websockets.frames import Close, Frame, Opcode
from websockets.protocol import State
from websockets.server import ServerProtocol
from websockets.uri import parse_uri

from signalling_server.config import Limits, ServerConfig, Timeouts
from signalling_server.frame_log import redacted_frame_logger
from signalling_server.ids import ConnectionId
from signalling_server.node import Outlet
from signalling_server.transport.coalescing import WriteCoalescer
from signalling_server.transport.websocket import WRITE_AT_BYTES, WebsocketSession
from tests.signalling_server.transport_harness import (
    EVENT_TIMEOUT,
    EchoCodec,
    EchoNode,
    RawWebsocket,
    running_listener,
    transport_config,
)

#: One step of a script: ``["send", client, text]`` or ``["close", client, code]``.
Step = tuple[str, int, str | int]


def script(*steps: Step) -> str:
    return json.dumps(steps)


@dataclass
class ScriptedNode(EchoNode):
    """Runs the scripts clients send; client ``n`` is the ``n``-th attached (``c<n>``)."""

    echo: bool = False
    #: The sends an outlet refused: (client, text).
    refused: list[tuple[int, str]] = field(default_factory=list)

    def receive(self, connection_id: ConnectionId, frame: str | bytes) -> None:
        super().receive(connection_id, frame)
        assert isinstance(frame, str)
        for action, client, argument in json.loads(frame):
            outlet = self.outlet(ConnectionId(f"c{client}"))
            if action == "send":
                if not outlet.send(str(argument).encode()):
                    self.refused.append((client, str(argument)))
            else:
                outlet.close(int(argument), "scripted")


async def open_client(port: int) -> ClientConnection:
    return await connect(
        f"ws://127.0.0.1:{port}/",
        proxy=None,
        compression=None,
        open_timeout=EVENT_TIMEOUT,
        close_timeout=EVENT_TIMEOUT,
        logger=redacted_frame_logger("websockets.client"),
    )


async def wait_attached(node: EchoNode, count: int) -> None:
    await node.wait_until(lambda: len(node.attached) == count, f"{count} attached")


@contextlib.asynccontextmanager
async def clients(
    node: ScriptedNode, count: int, config: ServerConfig | None = None
) -> AsyncIterator[tuple[int, list[ClientConnection]]]:
    """A listener and ``count`` clients attached in order (client ``n`` is ``c<n>``)."""
    async with running_listener(node, config) as listener:
        opened: list[ClientConnection] = []
        try:
            for index in range(count):
                opened.append(await open_client(listener.port))
                await wait_attached(node, index + 1)
            yield listener.port, opened
        finally:
            for ws in opened:
                await ws.close()


async def messages_then_close(ws: ClientConnection) -> tuple[list[str | bytes], int | None]:
    """Everything ``ws`` receives until the server closes it, and the close code."""
    received: list[str | bytes] = []
    async with asyncio.timeout(EVENT_TIMEOUT):
        with contextlib.suppress(ConnectionClosed):
            while True:
                received.append(await ws.recv())
    rcvd = ws.protocol.close_rcvd
    return received, None if rcvd is None else rcvd.code


async def messages(ws: ClientConnection, count: int) -> list[str | bytes]:
    async with asyncio.timeout(EVENT_TIMEOUT):
        return [await ws.recv() for _ in range(count)]


# Over real sockets -------------------------------------------------------------------


async def test_closes_interleaved_with_frames_keep_their_order() -> None:
    """Frames queued before a close arrive before its close frame; frames after it are refused."""
    node = ScriptedNode()
    async with clients(node, 3) as (_port, (sender, first, second)):
        await sender.send(
            script(
                ("send", 1, "b1"),
                ("send", 2, "c1"),
                ("send", 1, "b2"),
                ("close", 2, 1001),
                ("send", 1, "b3"),
                ("send", 2, "c-late"),
                ("close", 1, 4000),
                ("send", 0, "a1"),
            )
        )
        assert await messages_then_close(first) == (["b1", "b2", "b3"], 4000)
        assert await messages_then_close(second) == (["c1"], 1001)
        assert await messages(sender, 1) == ["a1"]
        assert node.refused == [(2, "c-late")]


async def test_frames_of_one_segment_reach_each_destination_in_order() -> None:
    """Several scripts in one TCP segment fan out to many clients, each in sending order."""
    node = ScriptedNode()
    async with running_listener(node) as listener:
        raw = await RawWebsocket.open(listener.port)  # c0: the sender
        receivers: list[ClientConnection] = []
        try:
            for index in range(1, 13):
                receivers.append(await open_client(listener.port))
                await wait_attached(node, index + 1)
            scripts = [
                script(*(("send", client, f"{client}:{round_}") for client in range(1, 13)))
                for round_ in range(4)
            ]
            raw.writer.write(
                b"".join(raw.frame(Frame(Opcode.TEXT, text.encode())) for text in scripts)
            )
            for client, ws in enumerate(receivers, start=1):
                assert await messages(ws, 4) == [f"{client}:{round_}" for round_ in range(4)]
        finally:
            for ws in receivers:
                await ws.close()
            await raw.close()


async def test_slow_reader_limit_counts_frames_not_written_yet() -> None:
    """Frames queued by one read count against send_buffer_bytes: past it, 1013 follows them."""
    node = ScriptedNode()
    config = transport_config(limits=Limits(send_buffer_bytes=16 * 1024))
    payload = "x" * 4000  # four frames are 16,016 bytes: under the limit; five are over it
    async with clients(node, 2, config) as (_port, (sender, receiver)):
        await sender.send(script(*(("send", 1, f"{n}{payload}") for n in range(6))))
        received, code = await messages_then_close(receiver)
        assert received == [f"{n}{payload}" for n in range(5)]
        assert code == 1013
        assert node.refused == [(1, f"5{payload}")]


async def test_frames_sent_outside_a_read_arrive_in_order_before_a_close() -> None:
    """Frames a timer sends (outside any read) are written by the next loop turn, before a close."""
    node = ScriptedNode()
    async with clients(node, 1) as (_port, (ws,)):
        outlet = node.outlet(ConnectionId("c0"))
        for n in range(3):
            assert outlet.send(f"t{n}".encode())
        assert await messages(ws, 3) == ["t0", "t1", "t2"]
        assert outlet.send(b"last")
        outlet.close(1001, "going away")
        assert await messages_then_close(ws) == (["last"], 1001)


# On recording transports ---------------------------------------------------------------


@dataclass
class SocketEnd:
    """A session's transport: records each write; ``written`` fires on the first one."""

    writes: list[bytes] = field(default_factory=list)
    closing: bool = False
    written: asyncio.Event = field(default_factory=asyncio.Event)

    def write(self, data: bytes) -> None:
        assert not self.closing, "written after close"
        self.writes.append(bytes(data))
        self.written.set()

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True

    def abort(self) -> None:
        self.closing = True

    def get_write_buffer_size(self) -> int:
        return 0

    def frames(self) -> list[Frame]:
        """What a client would read from everything written."""
        client = ClientProtocol(parse_uri("ws://127.0.0.1/"), state=State.OPEN)
        client.receive_data(b"".join(self.writes))
        return client.events_received()  # type: ignore[return-value]


@dataclass
class FanOutNode:
    """Each message is ``"<client>:<text>"``: ``text`` goes to that client (``!close`` closes it)."""

    outlets: dict[ConnectionId, Outlet] = field(default_factory=dict)
    #: The sends an outlet refused: (client, text).
    refused: list[tuple[str, str]] = field(default_factory=list)

    def attach(self, address: str, codec: object, outlet: Outlet) -> ConnectionId:
        connection_id = ConnectionId(f"c{len(self.outlets)}")
        self.outlets[connection_id] = outlet
        return connection_id

    def receive(self, connection_id: ConnectionId, frame: str | bytes) -> None:
        assert isinstance(frame, str)
        client, _, text = frame.partition(":")
        outlet = self.outlets[ConnectionId(f"c{client}")]
        if text == "!close":
            outlet.close(1001, "going away")
        elif not outlet.send(text.encode()):
            self.refused.append((client, text))

    def detach(self, connection_id: ConnectionId) -> None:
        pass


@contextlib.contextmanager
def sessions(
    node: FanOutNode, count: int, config: ServerConfig | None = None
) -> Iterator[list[tuple[WebsocketSession, SocketEnd]]]:
    """``count`` open sessions sharing one coalescer, attached as ``c0``, ``c1`` ..."""
    config = config or ServerConfig(timeouts=Timeouts(ping_interval=3600.0))
    coalescer = WriteCoalescer()
    opened = []
    for _ in range(count):
        end = SocketEnd()
        session = WebsocketSession(
            end,  # type: ignore[arg-type]
            ServerProtocol(state=State.OPEN),
            node,
            config,
            coalescer=coalescer,
        )
        session.open("127.0.0.1", EchoCodec())
        opened.append((session, end))
    try:
        yield opened
    finally:
        for session, _end in opened:
            session.connection_lost()  # stops the keepalive timers


def client_frames(*texts: str) -> bytes:
    return b"".join(
        Frame(Opcode.TEXT, text.encode()).serialize(mask=True, extensions=[]) for text in texts
    )


def texts(frames: list[Frame]) -> list[str]:
    assert all(frame.opcode is Opcode.TEXT for frame in frames), frames
    return [bytes(frame.data).decode() for frame in frames]


async def test_one_read_writes_each_destination_once() -> None:
    """A read whose frames go to several clients writes each of them once, frames in order."""
    node = FanOutNode()
    with sessions(node, 3) as ((reader, reader_end), (_, first), (_, second)):
        reader.data_received(client_frames("1:a", "2:b", "1:c", "0:echo", "2:d", "1:e"))
        assert len(first.writes) == 1
        assert texts(first.frames()) == ["a", "c", "e"]
        assert len(second.writes) == 1
        assert texts(second.frames()) == ["b", "d"]
        assert len(reader_end.writes) == 1
        assert texts(reader_end.frames()) == ["echo"]


async def test_frames_outside_a_read_are_written_once_on_the_next_loop_turn() -> None:
    """Frames sent outside a read wait for the loop, then go out in one write per client."""
    node = FanOutNode()
    with sessions(node, 2) as ((_, first), (_, second)):
        first_outlet, second_outlet = node.outlets.values()
        for n in range(3):
            assert first_outlet.send(f"x{n}".encode())
            assert second_outlet.send(f"y{n}".encode())
        assert first.writes == second.writes == []
        async with asyncio.timeout(EVENT_TIMEOUT):
            await first.written.wait()
        assert len(first.writes) == len(second.writes) == 1
        assert texts(first.frames()) == ["x0", "x1", "x2"]
        assert texts(second.frames()) == ["y0", "y1", "y2"]


async def test_a_destination_gone_before_the_write_gets_nothing() -> None:
    """A client aborted or lost between queueing and the write gets nothing; the others do."""
    node = FanOutNode()
    with sessions(node, 3) as ((aborted, aborted_end), (lost, lost_end), (_, kept_end)):
        for outlet in node.outlets.values():
            assert outlet.send(b"queued")
        aborted.abort()
        lost.connection_lost()
        async with asyncio.timeout(EVENT_TIMEOUT):
            await kept_end.written.wait()
        assert texts(kept_end.frames()) == ["queued"]
        assert aborted_end.writes == lost_end.writes == []


async def test_a_close_later_in_the_read_follows_the_frames_queued_before_it() -> None:
    """A client closed by a later frame of the same read gets its frames, then the close."""
    node = FanOutNode()
    with sessions(node, 2) as ((reader, _), (_, closed_end)):
        reader.data_received(client_frames("1:one", "1:two", "1:!close", "1:after"))
        frames = closed_end.frames()
        assert [frame.opcode for frame in frames] == [Opcode.TEXT, Opcode.TEXT, Opcode.CLOSE]
        assert texts(frames[:2]) == ["one", "two"]
        assert Close.parse(frames[2].data).code == 1001
        assert node.refused == [("1", "after")]


async def test_a_burst_reaches_the_socket_as_it_grows() -> None:
    """A read that sends more than WRITE_AT_BYTES to one client writes it in chunks that size."""
    node = FanOutNode()
    payload = "z" * 1000
    count = 3 * WRITE_AT_BYTES // 1000
    with sessions(node, 2) as ((reader, _), (_, burst_end)):
        reader.data_received(client_frames(*([f"1:{payload}"] * count)))
        assert len(burst_end.writes) >= 3
        assert all(len(data) >= WRITE_AT_BYTES for data in burst_end.writes[:-1])
        assert texts(burst_end.frames()) == [payload] * count
