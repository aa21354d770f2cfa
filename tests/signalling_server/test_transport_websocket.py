"""The websocket side of the transport: real sockets on 127.0.0.1, a fake node behind."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.frames import Close, CloseCode, Frame, Opcode

from signalling_server import SignallingServer, serve
from signalling_server.config import Limits, Timeouts
from signalling_server.frame_log import redacted_frame_logger
from signalling_server.transport import BACKLOG, WebsocketSession
from tests.signalling_server.transport_harness import (
    EVENT_TIMEOUT,
    EchoCodec,
    EchoNode,
    RawWebsocket,
    http_exchange,
    http_request,
    running_listener,
    transport_config,
)
from tests.timeouts import scaled


async def open_client(port: int, path: str = "/", address: str = "127.0.0.1") -> ClientConnection:
    """A websockets client on 127.0.0.1 that logs no frame contents either.

    It offers permessage-deflate, as browsers do; the server must decline it.
    """
    return await connect(
        f"ws://127.0.0.1:{port}{path}",
        local_addr=(address, 0),
        proxy=None,
        open_timeout=EVENT_TIMEOUT,
        close_timeout=EVENT_TIMEOUT,
        logger=redacted_frame_logger("websockets.client"),
    )


async def recv(ws: ClientConnection) -> str | bytes:
    async with asyncio.timeout(EVENT_TIMEOUT):
        return await ws.recv()


async def closed_code(ws: ClientConnection) -> int | None:
    """Read until the connection closes; the close code the server sent."""
    async with asyncio.timeout(EVENT_TIMEOUT):
        with contextlib.suppress(ConnectionClosed):
            while True:
                await ws.recv()
    rcvd = ws.protocol.close_rcvd
    return None if rcvd is None else rcvd.code


async def test_upgrade_on_root_attaches_and_frames_flow_both_ways() -> None:
    """A websocket on / is attached with its address and codec; text goes to the node and back."""
    node = EchoNode()
    async with running_listener(node) as listener:
        ws = await open_client(listener.port, address="127.0.0.7")
        response = ws.response
        assert response is not None
        assert response.headers["Server"] == "lobbyhost/test"
        assert "Sec-WebSocket-Extensions" not in response.headers  # no permessage-deflate
        await ws.send("hello")
        assert await recv(ws) == "hello"
        connection_id = await node.one_attached()
        assert node.attached[connection_id].address == "127.0.0.7"
        assert isinstance(node.attached[connection_id].codec, EchoCodec)
        assert node.received == [(connection_id, "hello")]
        await ws.close()
        await node.wait_until(lambda: node.detached == [connection_id], "detached")


async def test_upgrade_on_an_unknown_path_is_404() -> None:
    """A websocket handshake on a path that is not a websocket path answers 404."""
    node = EchoNode()
    async with running_listener(node) as listener:
        with pytest.raises(InvalidStatus) as caught:
            await open_client(listener.port, "/nope")
        assert caught.value.response.status_code == 404
        assert node.attached == {}


async def test_plain_get_on_the_websocket_path_is_426() -> None:
    """A GET on / that does not ask for a websocket answers 426 Upgrade Required."""
    node = EchoNode()
    async with running_listener(node) as listener:
        answer = await http_exchange(listener.port, http_request("GET", "/"))
    assert answer.status == 426
    assert answer.headers["upgrade"] == "websocket"
    assert answer.headers["server"] == "lobbyhost/test"


async def test_post_on_the_websocket_path_is_405() -> None:
    """Another method than GET on / answers 405 with Allow: GET."""
    node = EchoNode()
    async with running_listener(node) as listener:
        answer = await http_exchange(listener.port, http_request("POST", "/", b"x"))
    assert answer.status == 405
    assert answer.headers["allow"] == "GET"


async def test_binary_frame_reaches_the_node_as_bytes() -> None:
    """A binary frame is handed to the node as bytes, a text frame as str."""
    node = EchoNode(echo=False)
    async with running_listener(node) as listener:
        ws = await open_client(listener.port)
        await ws.send(b"\x00\x01binary")
        await ws.send("text")
        await node.wait_until(lambda: len(node.received) == 2, "two frames")
        assert [frame for _, frame in node.received] == [b"\x00\x01binary", "text"]
        await ws.close()


async def test_fragmented_message_reaches_the_node_whole() -> None:
    """A text message sent in fragments reaches the node once, put together."""
    node = EchoNode()
    async with running_listener(node) as listener:
        ws = await open_client(listener.port)
        await ws.send(["frag", "men", "ted ✓"])
        assert await recv(ws) == "fragmented ✓"
        assert [frame for _, frame in node.received] == ["fragmented ✓"]
        await ws.close()


async def test_first_frame_in_the_handshake_segment_is_not_lost() -> None:
    """A frame written right behind the handshake (already in h11's buffer) reaches the node."""
    node = EchoNode(echo=False)
    async with running_listener(node) as listener:
        first = Frame(Opcode.TEXT, b"right behind").serialize(mask=True, extensions=[])
        raw = await RawWebsocket.open(listener.port, then=first)
        await node.wait_until(lambda: len(node.received) == 1, "the first frame")
        assert node.received[0][1] == "right behind"
        await raw.close()


async def test_frame_above_the_hard_limit_closes_with_1009() -> None:
    """A frame larger than hard_frame_bytes closes the connection with 1009 and detaches it."""
    node = EchoNode()
    config = transport_config(limits=Limits(max_frame_bytes=1000, hard_frame_bytes=2000))
    async with running_listener(node, config) as listener:
        ws = await open_client(listener.port)
        await ws.send("x" * 1900)  # under the hard limit: delivered
        assert await recv(ws) == "x" * 1900
        await ws.send("x" * 2100)
        assert await closed_code(ws) == CloseCode.MESSAGE_TOO_BIG
        connection_id = await node.one_attached()
        await node.wait_until(lambda: node.detached == [connection_id], "detached")
        assert len(node.received) == 1


async def test_invalid_utf8_text_closes_with_1007() -> None:
    """A text frame that is not UTF-8 never reaches the node; the connection closes with 1007."""
    node = EchoNode()
    async with running_listener(node) as listener:
        ws = await open_client(listener.port)
        await ws.send(b"\xff\xfe", text=True)
        assert await closed_code(ws) == CloseCode.INVALID_DATA
        assert node.received == []


async def test_keepalive_closes_a_client_that_never_answers_pings() -> None:
    """A client that never answers pings is closed with 1011 after ping_timeout, and detached."""
    node = EchoNode()
    timeouts = Timeouts(
        ping_interval=scaled(0.05), ping_timeout=scaled(0.1), close_timeout=scaled(2.0)
    )
    async with running_listener(node, transport_config(timeouts=timeouts)) as listener:
        raw = await RawWebsocket.open(listener.port)  # answers nothing, pings included
        frames = await raw.read_until_eof()
        opcodes = [frame.opcode for frame in frames]
        assert Opcode.PING in opcodes
        assert opcodes[-1] is Opcode.CLOSE
        assert Close.parse(frames[-1].data).code == CloseCode.INTERNAL_ERROR
        connection_id = await node.one_attached()
        await node.wait_until(lambda: node.detached == [connection_id], "detached")
        await raw.close()


async def test_keepalive_keeps_a_client_that_answers() -> None:
    """A client that answers each keepalive ping with its pong stays open ping after ping."""
    node = EchoNode()
    timeouts = Timeouts(
        ping_interval=scaled(0.02), ping_timeout=scaled(0.2), close_timeout=scaled(2.0)
    )
    async with running_listener(node, transport_config(timeouts=timeouts)) as listener:
        raw = await RawWebsocket.open(listener.port)
        payloads: set[bytes] = set()
        while len(payloads) < 4:
            frame = await raw.next_frame()
            assert frame.opcode is Opcode.PING, frame
            payloads.add(bytes(frame.data))
            raw.send(Frame(Opcode.PONG, frame.data))
        raw.send(Frame(Opcode.TEXT, b"still here"))
        frame = await raw.next_frame()
        while frame.opcode is Opcode.PING:  # answer pings until the echo comes
            raw.send(Frame(Opcode.PONG, frame.data))
            frame = await raw.next_frame()
        assert (frame.opcode, bytes(frame.data)) == (Opcode.TEXT, b"still here")
        assert node.detached == []
        await raw.close()


async def test_slow_reader_is_closed_with_1013(caplog: pytest.LogCaptureFixture) -> None:
    """A client that stops reading is closed with 1013 once its backlog passes send_buffer_bytes."""
    node = EchoNode()
    config = transport_config(
        limits=Limits(send_buffer_bytes=64 * 1024),
        timeouts=Timeouts(close_timeout=scaled(10.0)),
    )
    async with running_listener(node, config) as listener:
        ws = await open_client(listener.port)
        connection_id = await node.one_attached()
        outlet = node.outlet(connection_id)
        ws.transport.pause_reading()
        frame = b"x" * 16 * 1024
        sent = 0
        with caplog.at_level(logging.WARNING, logger="signalling_server.transport"):
            async with asyncio.timeout(EVENT_TIMEOUT):
                while outlet.send(frame):
                    sent += 1
                    # Let the loop write to the socket, so only a full socket buffer
                    # (the client not reading) makes the backlog grow.
                    await asyncio.sleep(0)
        assert sent > 4  # more than the limit's worth went out before the buffers filled
        assert "too slow" in caplog.text
        ws.transport.resume_reading()
        assert await closed_code(ws) == 1013
        await node.wait_until(lambda: node.detached == [connection_id], "detached")


async def test_abort_drops_the_connection_without_a_close_frame() -> None:
    """Aborting a session drops TCP at once (code 1006 for the client) and detaches once."""
    node = EchoNode()
    async with running_listener(node) as listener:
        ws = await open_client(listener.port)
        connection_id = await node.one_attached()
        session = listener.session(connection_id)
        assert isinstance(session, WebsocketSession)
        session.abort()
        with pytest.raises(ConnectionClosed):
            await recv(ws)
        assert ws.protocol.close_rcvd is None  # no closing handshake
        await node.wait_until(lambda: node.detached == [connection_id], "detached")
        assert listener.session(connection_id) is None
        assert node.outlet(connection_id).send(b"late") is False


async def test_outlet_close_does_the_closing_handshake() -> None:
    """outlet.close sends the code and reason; sends fail from then on; detach follows the close."""
    node = EchoNode()
    async with running_listener(node) as listener:
        ws = await open_client(listener.port)
        connection_id = await node.one_attached()
        outlet = node.outlet(connection_id)
        outlet.close(1001, "going away")
        assert outlet.send(b"after close") is False
        assert await closed_code(ws) == 1001
        assert ws.protocol.close_rcvd is not None
        assert ws.protocol.close_rcvd.reason == "going away"
        await node.wait_until(lambda: node.detached == [connection_id], "detached")


async def test_debug_log_holds_no_frame_data(caplog: pytest.LogCaptureFixture) -> None:
    """At DEBUG, frames are logged by kind and size only: a token-like string never appears."""
    token = "tok3n.SECRET-2f9c1d7e8a"
    caplog.set_level(logging.DEBUG)
    node = EchoNode()
    async with running_listener(node) as listener:
        ws = await open_client(listener.port)
        await ws.send(f'{{"action":"resume","content":{{"token":"{token}"}}}}')
        assert token in str(await recv(ws))
        await ws.close()
    assert any(record.levelno == logging.DEBUG for record in caplog.records)
    assert any("TEXT" in record.getMessage() for record in caplog.records)  # frames were logged
    assert token not in caplog.text
    assert "SECRET" not in caplog.text


async def test_server_close_is_bounded_by_close_timeout() -> None:
    """SignallingServer.close() sends 1001 and returns within close_timeout when a client never answers."""
    close_timeout = scaled(0.3)
    config = transport_config(timeouts=Timeouts(close_timeout=close_timeout))
    async with serve(config) as server:
        silent = await RawWebsocket.open(server.port)  # will not answer the close frame
        assert server.counters.connections == 1  # attached before the 101 was written
        loop = asyncio.get_running_loop()
        started = loop.time()
        async with asyncio.timeout(EVENT_TIMEOUT):
            await server.close()
        assert loop.time() - started < close_timeout + scaled(1.0)
    frames = await silent.read_until_eof()
    assert Close.parse(frames[-1].data).code == 1001
    await silent.close()


async def test_server_abort_connection_drops_tcp_and_the_node_forgets_it() -> None:
    """SignallingServer.abort_connection drops the socket with no close frame; the node detaches it."""
    async with serve(transport_config()) as server:
        ws = await open_client(server.port)
        await ws.send('{"action":"start_lobby","content":{}}')
        started = json.loads(await recv(ws))
        assert started["event"] == "lobby_started", started
        connection_id = started["content"]["connection_id"]
        assert server.abort_connection(connection_id)
        with pytest.raises(ConnectionClosed):
            await recv(ws)
        assert ws.protocol.close_rcvd is None
        await wait_for_connections(server, 0)
        assert not server.abort_connection(connection_id)
        assert not server.close_connection(connection_id)


async def wait_for_connections(server: SignallingServer, count: int) -> None:
    """Until the server counts ``count`` connections (a fresh /healthz each try)."""
    async with asyncio.timeout(EVENT_TIMEOUT):
        while server.counters.connections != count:
            await http_exchange(server.port, http_request("GET", "/healthz"))


def test_backlog_is_large_enough_for_reconnect_storms() -> None:
    """The listening socket queues 1024 connections, not asyncio's default 100."""
    assert BACKLOG == 1024
