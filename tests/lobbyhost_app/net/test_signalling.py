"""The signalling client against a real server, and against scripted websocket servers, on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

import msgspec
import pytest
from websockets.asyncio.server import ServerConnection
from websockets.asyncio.server import serve as ws_serve

from lobbyhost_app.net.errors import NetError, ServerError
from lobbyhost_app.net.signalling import SignallingClient
from lobbyhost_app.net.signalling_api import (
    ConnectionClosed,
    ConnectionLost,
    SignallingEvent,
)
from signalling_server import Limits, ServerConfig, serve
from signalling_server.clock import ManualClock
from signalling_server.protocol import (
    ErrorCode,
    JoinLobby,
    JoinRequested,
    LobbyStarted,
    Ping,
    Pong,
    SendMessage,
    StartLobby,
    encode_event,
)
from tests.timeouts import scaled

from ..fake_clock import SteppingClock
from .recorder import Recorder

Script = Callable[[ServerConnection], Awaitable[None]]


@contextlib.asynccontextmanager
async def scripted_server(script: Script) -> AsyncIterator[str]:
    """A websocket server on 127.0.0.1 that runs ``script`` per connection; its URL.

    Its own logger is not the websockets one, so a test of the client's log sees the client only.
    """
    quiet = logging.getLogger("tests.scripted_server")
    async with ws_serve(script, "127.0.0.1", 0, logger=quiet) as server:
        port = server.sockets[0].getsockname()[1]
        yield f"ws://127.0.0.1:{port}/"


def ref_of(frame: str | bytes) -> str | None:
    """The ``ref`` of a client frame."""
    ref = msgspec.json.decode(frame).get("ref")
    return ref if isinstance(ref, str) else None


async def test_a_burst_beyond_the_server_budget_is_paced_not_refused() -> None:
    """300 actions at once against a 50/s, burst 200 server: 120 wait 1/45 s each, all answered."""
    config = ServerConfig(port=0, limits=Limits(actions_per_second=50, action_burst=200))
    shared = ManualClock()  # the server's and the client's: pacing waits move it, nobody waits
    async with serve(config, clock=shared) as server:
        clock = SteppingClock(shared)
        client = SignallingClient(server.url, clock=clock)  # default budget: 45/s, burst 180
        events: Recorder[SignallingEvent] = Recorder()
        client.add_listener(events)
        await client.connect()
        pings = (Ping(t=msgspec.Raw(str(n).encode())) for n in range(300))
        await asyncio.gather(*(client.send(ping) for ping in pings))
        pongs = await events.wait_for(
            lambda _e: sum(isinstance(e, Pong) for e in events.events) == 300
        )
        assert isinstance(pongs, Pong)
        assert [int(msgspec.json.decode(e.t)) for e in events.events if isinstance(e, Pong)] == (
            list(range(300))
        )
        assert server.counters.errors == {}
        assert clock.slept == pytest.approx([1 / 45] * 120)  # the burst of 180 went at once
        await client.close()


async def test_errors_of_fire_and_forget_actions_reach_their_sender() -> None:
    """A relay the server refuses calls the on_error given to send, with the server's typed code."""
    async with serve(ServerConfig(port=0)) as server:
        client = SignallingClient(server.url)
        await client.connect()
        refused: asyncio.Future[ServerError] = asyncio.get_running_loop().create_future()
        relay = SendMessage(connection_id="x", data=msgspec.Raw(b"1"))
        await client.send(relay, on_error=refused.set_result)
        async with asyncio.timeout(scaled(5)):
            error = await refused
        assert error.code is ErrorCode.NOT_IN_LOBBY
        await client.close()


async def test_request_raises_the_server_error_and_unreachable_is_readable() -> None:
    """request() raises ServerError for an error reply; an unreachable server is a NetError."""
    async with serve(ServerConfig(port=0)) as server:
        client = SignallingClient(server.url)
        await client.connect()
        with pytest.raises(ServerError, match="no lobby") as raised:
            await client.request(JoinLobby(lobby_id="ZZZZZZ"))
        assert raised.value.code is ErrorCode.LOBBY_NOT_FOUND
        assert raised.value.action == "join_lobby"
        await client.close()
        port = server.port
    with pytest.raises(NetError, match="cannot reach"):
        await SignallingClient(f"ws://127.0.0.1:{port}/", open_timeout=2).connect()
    with pytest.raises(NetError, match="not a websocket address"):
        await SignallingClient("http://127.0.0.1:1/").connect()


async def test_replies_are_typed_events() -> None:
    """request() hands back the protocol's typed event, and listeners get the same object."""
    async with serve(ServerConfig(port=0)) as server:
        client = SignallingClient(server.url)
        events: Recorder[SignallingEvent] = Recorder()
        client.add_listener(events)
        await client.connect()
        reply = await client.request(StartLobby(name="Friday game"))
        assert isinstance(reply, LobbyStarted)
        assert client.connection_id == reply.connection_id
        assert events.events == [reply]
        await client.close()


async def test_an_error_code_this_client_does_not_know_still_answers_the_request() -> None:
    """A newer server's unknown error code raises ServerError with the code kept as text; no hang."""

    async def newer_server(ws: ServerConnection) -> None:
        async for frame in ws:
            await ws.send(
                '{"event":"error","content":{"code":"lobby_on_fire","message":"too hot",'
                f'"action":"join_lobby"}},"ref":"{ref_of(frame)}"}}'
            )

    async with scripted_server(newer_server) as url:
        client = SignallingClient(url, reconnect=False, reply_timeout=scaled(5))
        await client.connect()
        with pytest.raises(ServerError, match="too hot") as raised:
            await client.request(JoinLobby(lobby_id="ABC123"))
        assert raised.value.code == "lobby_on_fire"
        assert raised.value.action == "join_lobby"
        await client.close()


async def test_a_listener_that_raises_is_logged_and_the_client_carries_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A failing listener is logged; replies still come, and losing the server still ends in ConnectionClosed."""

    def broken(event: SignallingEvent) -> None:
        raise RuntimeError("listener bug")

    async with serve(ServerConfig(port=0)) as server:
        client = SignallingClient(server.url, reconnect=False)
        client.add_listener(broken)
        events: Recorder[SignallingEvent] = Recorder()
        client.add_listener(events)
        await client.connect()
        with caplog.at_level(logging.ERROR, logger="lobbyhost_app.net.signalling"):
            assert isinstance(await client.request(StartLobby()), LobbyStarted)
            assert isinstance(await client.request(Ping()), Pong)
        assert "a signalling listener failed on LobbyStarted" in caplog.text
        assert "listener bug" in caplog.text
    closed = await events.wait_for(lambda e: isinstance(e, ConnectionClosed))
    assert isinstance(closed, ConnectionClosed)
    assert not client.connected
    with pytest.raises(NetError):
        await client.request(Ping())


async def test_resuming_to_a_server_that_is_gone_ends_in_connection_closed() -> None:
    """The server is gone for good: lost, retries backing off 0.25 s to 5 s for 30 s, closed; a request waiting fails."""
    dropped = asyncio.Event()

    async def lobby_server(ws: ServerConnection) -> None:
        async for frame in ws:
            started = LobbyStarted("ABC123", "host-1", "secret-token", 1, [])
            await ws.send(encode_event(started, ref_of(frame)).decode())
            await dropped.wait()
            return  # the handler ends: websockets closes this connection

    events: Recorder[SignallingEvent] = Recorder()
    async with scripted_server(lobby_server) as url:
        clock = SteppingClock()
        client = SignallingClient(url, clock=clock)  # backoff 0.25 s doubling to 5 s, window 30 s
        client.add_listener(events)
        await client.connect()
        assert isinstance(await client.request(StartLobby()), LobbyStarted)
        # Stop listening first, then drop the socket: every reconnect is refused.
        dropped.set()
    await events.wait_for(lambda e: isinstance(e, ConnectionLost))
    waiting = asyncio.create_task(client.request(Ping()))
    closed = await events.wait_for(lambda e: isinstance(e, ConnectionClosed))
    assert closed == ConnectionClosed("the signalling connection was lost")
    assert clock.slept == [0.25, 0.5, 1.0, 2.0, 4.0, 5.0, 5.0, 5.0, 5.0, 5.0]  # 32.75 s >= 30
    with pytest.raises(NetError):
        await waiting
    await client.close()


async def test_frames_with_secrets_never_reach_the_debug_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """At DEBUG, the client's websocket logs frames as kind and size: no password out, no token in."""

    async def lobby_server(ws: ServerConnection) -> None:
        async for frame in ws:
            started = LobbyStarted("ABC123", "host-1", "token-from-server", 1, [])
            await ws.send(encode_event(started, ref_of(frame)).decode())

    async with scripted_server(lobby_server) as url:
        client = SignallingClient(url, reconnect=False)
        with caplog.at_level(logging.DEBUG, logger="websockets"):
            await client.connect()
            reply = await client.request(StartLobby(password="password-from-user"))
            await client.close()
    assert isinstance(reply, LobbyStarted)
    assert "TEXT" in caplog.text  # frames were logged, as kind and size
    assert "token-from-server" not in caplog.text
    assert "password-from-user" not in caplog.text


async def test_join_reply_matches_its_request_among_other_events() -> None:
    """Two requests in flight get their own replies, matched by ref."""
    async with serve(ServerConfig(port=0)) as server:
        host = SignallingClient(server.url)
        guest = SignallingClient(server.url)
        await host.connect()
        await guest.connect()
        started = await host.request(StartLobby(name="Ann's"))
        assert isinstance(started, LobbyStarted)
        joined, pong = await asyncio.gather(
            guest.request(JoinLobby(lobby_id=started.lobby_id, name="Bob")),
            guest.request(Ping(t=msgspec.Raw(b"7"))),
        )
        assert joined == JoinRequested(started.lobby_id, "Ann's")
        assert pong == Pong(t=msgspec.Raw(b"7"))
        await guest.close()
        await host.close()


async def test_actions_after_close_fail_at_once() -> None:
    """Once closed, send() and request() raise NetError at once instead of waiting to reconnect."""
    async with serve(ServerConfig(port=0)) as server:
        client = SignallingClient(server.url)  # resume window: 30 s
        await client.connect()
        await client.close()
        assert not client.connected
        async with asyncio.timeout(scaled(2)):
            with pytest.raises(NetError, match="not connected"):
                await client.request(Ping())
            with pytest.raises(NetError, match="not connected"):
                await client.send(Ping())
