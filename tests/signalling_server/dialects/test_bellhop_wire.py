"""Bellhop over real websockets: a server on 127.0.0.1 port 0 and clients that speak as Godot does."""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from signalling_server import Limits, ServerConfig, SignallingServer, Timeouts, serve
from tests.timeouts import scaled

EVENT_TIMEOUT = scaled(3.0)
OFFER_SDP = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
ANSWER_SDP = "v=0\r\no=- 3 4 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
LINE = "candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host"
REQUEST_ID = re.compile(r"^[A-Za-z0-9+/=]{16}$")


class GodotClient:
    """A websocket that sends what the demo's BellhopActionMessages send (Godot sends no Origin)."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        #: This connection's id, once a frame has told it.
        self.id = ""

    @classmethod
    async def open(cls, url: str, address: str, **options: Any) -> GodotClient:
        ws = await connect(
            url,
            local_addr=(address, 0),
            proxy=None,
            open_timeout=EVENT_TIMEOUT,
            close_timeout=EVENT_TIMEOUT,
            **options,
        )
        return cls(ws)

    async def send(self, action: str, **content: Any) -> None:
        await self.ws.send(json.dumps({"action": action, "content": content}))

    async def raw(self, frame: str | bytes) -> None:
        await self.ws.send(frame)

    async def next(self) -> dict[str, Any]:
        try:
            async with asyncio.timeout(EVENT_TIMEOUT):
                frame = await self.ws.recv()
        except TimeoutError:
            raise AssertionError(f"nothing within {EVENT_TIMEOUT} s") from None
        assert isinstance(frame, str), frame
        message: dict[str, Any] = json.loads(frame)
        return message

    async def expect(self, event: str) -> dict[str, Any]:
        message = await self.next()
        assert set(message) == {"event", "content"} and message["event"] == event, message
        content: dict[str, Any] = message["content"]
        return content

    async def expect_internal_error(self) -> dict[str, Any]:
        message = await self.next()
        assert set(message) == {"message", "connectionId", "requestId"}, message
        assert message["message"] == "Internal server error"
        assert REQUEST_ID.match(message["requestId"]), message
        if self.id:
            assert message["connectionId"] == self.id
        self.id = message["connectionId"]
        return message

    async def assert_silent(self) -> None:
        """Nothing came before the answer to a probe (an invalid frame's error frame)."""
        await self.raw("probe")
        await self.expect_internal_error()

    async def close(self) -> None:
        await self.ws.close()


class Wire:
    """A running server and the Godot clients a test opened, each from its own loopback address."""

    def __init__(self, server: SignallingServer) -> None:
        self.server = server
        self.clients: list[GodotClient] = []
        self._next_address = 10

    def url(self, path: str = "/bellhop/production") -> str:
        return f"ws://127.0.0.1:{self.server.port}{path}"

    async def client(self, path: str = "/bellhop/production", **options: Any) -> GodotClient:
        self._next_address += 1
        client = await GodotClient.open(self.url(path), f"127.0.0.{self._next_address}", **options)
        self.clients.append(client)
        await client.assert_silent()  # learns its id; and no greeting came first
        return client

    async def host(self, lobby_id: str = "my-lobby") -> GodotClient:
        host = await self.client()
        await host.send("start_lobby", lobby_id=lobby_id)
        assert await host.expect("lobby_started") == {"lobby_id": lobby_id}
        return host

    async def guest(self, host: GodotClient, lobby_id: str, peer_id: int) -> GodotClient:
        player = await self.client()
        await player.send("join_lobby", lobby_id=lobby_id)
        assert await host.expect("received_join_request") == {"connection_id": player.id}
        await host.send(
            "accept_join_request", player_connection_id=player.id, player_peer_id=peer_id
        )
        assert await player.expect("join_request_accepted") == {
            "host_connection_id": host.id,
            "peer_id": peer_id,
        }
        return player


def _config(**options: Any) -> ServerConfig:
    options.setdefault("limits", Limits(password_hash_iterations=1))
    options.setdefault("timeouts", Timeouts(close_timeout=scaled(2.0)))
    return ServerConfig(host="127.0.0.1", port=0, **options)


@contextlib.asynccontextmanager
async def running(config: ServerConfig) -> AsyncIterator[Wire]:
    """A server for the block; every client is closed at the end."""
    async with serve(config) as server:
        wire = Wire(server)
        try:
            yield wire
        finally:
            for client in wire.clients:
                await client.close()


@pytest.fixture
async def wire() -> AsyncIterator[Wire]:
    """A server with default limits on 127.0.0.1 port 0."""
    async with running(_config()) as wire:
        yield wire


async def test_godot_demo_session_over_the_wire(wire: Wire) -> None:
    """Start, join, accept with the host's peer id, guest offer, host answer, candidates both ways, close."""
    host = await wire.host("my-lobby")
    player = await wire.guest(host, "my-lobby", 2)
    await player.send(
        "send_session_description", connection_id=host.id, session_type="offer", sdp=OFFER_SDP
    )
    assert await host.expect("received_session_description") == {
        "connection_id": player.id,
        "session_type": "offer",
        "sdp": OFFER_SDP,
    }
    await player.send("send_ice_candidate", connection_id=host.id, media="0", index=0, name=LINE)
    assert await host.expect("received_ice_candidate") == {
        "connection_id": player.id,
        "media": "0",
        "index": 0,
        "name": LINE,
    }
    await host.send(
        "send_session_description", connection_id=player.id, session_type="answer", sdp=ANSWER_SDP
    )
    assert await player.expect("received_session_description") == {
        "connection_id": host.id,
        "session_type": "answer",
        "sdp": ANSWER_SDP,
    }
    await host.send("send_ice_candidate", connection_id=player.id, media="0", index=0, name=LINE)
    assert await player.expect("received_ice_candidate") == {
        "connection_id": host.id,
        "media": "0",
        "index": 0,
        "name": LINE,
    }
    await host.raw('{"action": "close_lobby"}')  # as the demo sends it: no content key
    await host.assert_silent()
    await player.assert_silent()
    late = await wire.client()
    await late.send("join_lobby", lobby_id="my-lobby")
    assert await late.expect("join_request_rejected") == {"reason": "Lobby 'my-lobby' not found."}
    assert wire.server.counters.relayed == 4


@pytest.mark.parametrize("path", ["/bellhop", "/bellhop/", "/bellhop/production", "/bellhop/a/b"])
async def test_every_path_under_bellhop_speaks_bellhop(wire: Wire, path: str) -> None:
    """/bellhop and any path under it (an API Gateway stage) open a Bellhop connection."""
    client = await wire.client(path)
    await client.send("start_lobby")
    assert (await client.expect("lobby_started"))["lobby_id"]


async def test_no_origin_is_required_and_any_origin_is_accepted(wire: Wire) -> None:
    """Godot sends no Origin (the default client sends none); a browser game's foreign Origin works too."""
    foreign = await wire.client(origin="https://games.example.net")
    await foreign.send("start_lobby", lobby_id="from-a-page")
    assert await foreign.expect("lobby_started") == {"lobby_id": "from-a-page"}


async def test_a_path_that_only_starts_like_bellhop_is_not_a_websocket(wire: Wire) -> None:
    """/bellhopx is refused with 404 before the upgrade."""
    with pytest.raises(InvalidStatus) as refused:
        await GodotClient.open(wire.url("/bellhopx"), "127.0.0.2")
    assert refused.value.response.status_code == 404


async def test_a_host_that_drops_closes_its_lobby_and_its_guest_hears_nothing(wire: Wire) -> None:
    """The host's socket closes: the lobby is gone at once, the guest gets no frame."""
    host = await wire.host("dropping")
    player = await wire.guest(host, "dropping", 2)
    await host.close()  # returns once the server has dropped the connection
    await player.assert_silent()
    await player.send("send_ice_candidate", connection_id=host.id, media="0", index=0, name=LINE)
    await player.expect_internal_error()
    late = await wire.client()
    await late.send("join_lobby", lobby_id="dropping")
    assert await late.expect("join_request_rejected") == {"reason": "Lobby 'dropping' not found."}


async def test_a_guest_that_drops_is_removed_and_its_host_hears_nothing(wire: Wire) -> None:
    """The guest's socket closes: the host gets no frame, and relays to the guest are refused."""
    host = await wire.host("guest-drops")
    player = await wire.guest(host, "guest-drops", 2)
    await player.close()
    await host.assert_silent()
    await host.send("send_ice_candidate", connection_id=player.id, media="0", index=0, name=LINE)
    await host.expect_internal_error()


async def test_bellhop_and_native_clients_cannot_reach_each_other(wire: Wire) -> None:
    """A native client at / finds no Bellhop lobby and cannot signal a Bellhop connection, nor the reverse."""
    host = await wire.host("ABCDEF")
    async with connect(wire.url("/"), proxy=None, open_timeout=EVENT_TIMEOUT) as native:
        await native.send(json.dumps({"action": "join_lobby", "content": {"lobby_id": "ABCDEF"}}))
        error = json.loads(await asyncio.wait_for(native.recv(), EVENT_TIMEOUT))
        assert error["content"]["code"] == "lobby_not_found"
        await native.send(json.dumps({"action": "start_lobby", "content": {}}))
        started = json.loads(await asyncio.wait_for(native.recv(), EVENT_TIMEOUT))["content"]
        relay = {"connection_id": host.id, "data": "hi"}
        await native.send(json.dumps({"action": "send_message", "content": relay}))
        error = json.loads(await asyncio.wait_for(native.recv(), EVENT_TIMEOUT))
        assert error["content"]["code"] == "unknown_connection"
        await host.send(
            "send_ice_candidate",
            connection_id=started["connection_id"],
            media="0",
            index=0,
            name=LINE,
        )
        await host.expect_internal_error()
        joiner = await wire.client()
        await joiner.send("join_lobby", lobby_id=started["lobby_id"])
        reason = f"Lobby '{started['lobby_id']}' not found."
        assert await joiner.expect("join_request_rejected") == {"reason": reason}
    await host.assert_silent()


async def test_bad_frames_get_the_internal_server_error_frame_and_the_socket_stays_open(
    wire: Wire,
) -> None:
    """Binary, not JSON, unknown action, missing keys: the error frame each time, then normal service."""
    client = await wire.client()
    for frame in (b"\x00\x01", "{", '{"action": "dance"}', '{"action": "join_lobby"}'):
        await client.raw(frame)
        await client.expect_internal_error()
    await client.send("start_lobby", lobby_id="still-here")
    assert await client.expect("lobby_started") == {"lobby_id": "still-here"}


async def test_frame_limits_apply_to_bellhop() -> None:
    """Above max_frame_bytes the error frame; above hard_frame_bytes the socket closes with 1009."""
    limits = Limits(password_hash_iterations=1, max_frame_bytes=1024, hard_frame_bytes=4096)
    async with running(_config(limits=limits)) as wire:
        client = await wire.client()
        await client.send("start_lobby", lobby_id="x" * 1100)
        await client.expect_internal_error()
        await client.send("start_lobby", lobby_id="y" * 5000)
        with pytest.raises(ConnectionClosed):
            await client.next()
        assert client.ws.close_code == 1009


async def test_an_unanswered_join_request_times_out_on_the_scaled_timer() -> None:
    """pending_request_timeout x dialect_time_scale later the joiner gets a readable rejection."""
    timeouts = Timeouts(close_timeout=scaled(2.0), pending_request_timeout=20.0)
    async with running(_config(timeouts=timeouts, dialect_time_scale=0.01)) as wire:
        host = await wire.host("slow-host")
        joiner = await wire.client()
        await joiner.send("join_lobby", lobby_id="slow-host")
        assert await host.expect("received_join_request") == {"connection_id": joiner.id}
        assert await joiner.expect("join_request_rejected") == {
            "reason": "The host of lobby 'slow-host' did not answer in time."
        }
        await host.assert_silent()


async def test_health_counts_bellhop_lobbies(wire: Wire) -> None:
    """/healthz's lobby count includes Bellhop lobbies and drops when they close."""
    host = await wire.host("counted")

    def lobbies() -> int:
        connection = http.client.HTTPConnection(
            "127.0.0.1", wire.server.port, timeout=EVENT_TIMEOUT
        )
        try:
            connection.request("GET", "/healthz")
            count: int = json.loads(connection.getresponse().read())["lobbies"]
            return count
        finally:
            connection.close()

    assert await asyncio.to_thread(lobbies) == 1
    await host.raw('{"action": "close_lobby"}')
    await host.assert_silent()
    assert await asyncio.to_thread(lobbies) == 0
