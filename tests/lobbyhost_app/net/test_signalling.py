"""The signalling client against a real server on loopback."""

from __future__ import annotations

import asyncio

import pytest

from lobbyhost_app.net.errors import NetError, ServerError
from lobbyhost_app.net.signalling import SignallingClient
from signalling_server import Limits, ServerConfig, serve

from .recorder import Recorder


async def test_a_burst_beyond_the_server_budget_is_paced_not_refused() -> None:
    """300 actions at once against a 50/s, burst 200 server: all answered, none rate_limited."""
    config = ServerConfig(port=0, limits=Limits(actions_per_second=50, action_burst=200))
    async with serve(config) as server:
        client = SignallingClient(server.url)  # default budget: 45/s, burst 180
        events: Recorder[str] = Recorder()
        client.add_listener(lambda event, _content: events(event))
        await client.connect()
        await asyncio.gather(*(client.send("ping", t=n) for n in range(300)))
        await events.wait_for(lambda _e: events.events.count("pong") == 300)
        assert "error" not in events.events
        assert server.counters.errors == {}
        await client.close()


async def test_errors_of_fire_and_forget_actions_reach_their_sender() -> None:
    """A relay the server refuses calls the on_error given to send, with the server's code."""
    async with serve(ServerConfig(port=0)) as server:
        client = SignallingClient(server.url)
        await client.connect()
        refused: asyncio.Future[ServerError] = asyncio.get_running_loop().create_future()
        await client.send("send_message", on_error=refused.set_result, connection_id="x", data=1)
        async with asyncio.timeout(5):
            error = await refused
        assert error.code == "not_in_lobby"
        await client.close()


async def test_request_raises_the_server_error_and_unreachable_is_readable() -> None:
    """request() raises ServerError for an error reply; an unreachable server is a NetError."""
    async with serve(ServerConfig(port=0)) as server:
        client = SignallingClient(server.url)
        await client.connect()
        with pytest.raises(ServerError, match="no lobby") as raised:
            await client.request("join_lobby", lobby_id="ZZZZZZ")
        assert raised.value.code == "lobby_not_found"
        assert raised.value.action == "join_lobby"
        await client.close()
        port = server.port
    with pytest.raises(NetError, match="cannot reach"):
        await SignallingClient(f"ws://127.0.0.1:{port}/", open_timeout=2).connect()
    with pytest.raises(NetError, match="not a websocket address"):
        await SignallingClient("http://127.0.0.1:1/").connect()
