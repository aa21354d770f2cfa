"""groovejet over a real server: websocket clients talking as thomasboyt/pearl's GroovejetClient does.

Every socket is on loopback: the server listens on 127.0.0.1 port 0 and each
client binds a 127.0.0.N source address of its own (limits are per address).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from signalling_server import Limits, ServerConfig, SignallingServer, Timeouts, serve
from signalling_server.backend import MemoryBackend
from signalling_server.ids import LobbyId
from signalling_server.lobby import Lobby
from tests.signalling_server.wsclient import WsClient, expect_closed
from tests.timeouts import scaled

CODE = re.compile(r"^[0-9a-z]{5}$")
OFFER = {"type": "offer", "sdp": "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\na=candidate:1\r\n"}
ANSWER = {"type": "answer", "sdp": "v=0\r\no=- 3 4 IN IP4 127.0.0.1\r\ns=-\r\na=candidate:2\r\n"}
EVENT_TIMEOUT = scaled(3.0)
_addresses = itertools.count(20)


class Pearl:
    """One groovejet connection, used as pearl's GroovejetClient uses it."""

    def __init__(self, ws: ClientConnection, client_id: str) -> None:
        self.ws = ws
        self.client_id = client_id

    @classmethod
    async def connect(
        cls, server: SignallingServer, path: str = "/groovejet", *, address: str | None = None
    ) -> Pearl:
        """Open the socket (no Origin, no subprotocol) and take the identity frame, as pearl does."""
        ws = await connect(
            f"ws://127.0.0.1:{server.port}{path}",
            local_addr=(address or f"127.0.0.{next(_addresses)}", 0),
            proxy=None,
            open_timeout=EVENT_TIMEOUT,
            close_timeout=EVENT_TIMEOUT,
        )
        pearl = cls(ws, "")
        identity = await pearl.next()
        assert identity["type"] == "identity" and list(identity["data"]) == ["clientId"]
        pearl.client_id = identity["data"]["clientId"]
        assert str(uuid.UUID(pearl.client_id, version=4)) == pearl.client_id
        return pearl

    async def send(self, message: Any) -> None:
        await self.ws.send(json.dumps(message))

    async def next(self) -> dict[str, Any]:
        try:
            async with asyncio.timeout(EVENT_TIMEOUT):
                frame = await self.ws.recv()
        except TimeoutError:
            raise AssertionError(f"no frame within {EVENT_TIMEOUT} s") from None
        except ConnectionClosed as exc:
            raise AssertionError(f"expected a frame, the connection closed: {exc}") from None
        assert isinstance(frame, str), f"expected a text frame, got {frame!r}"
        message: dict[str, Any] = json.loads(frame)
        return message

    async def expect_closed(self, code: int) -> None:
        """The server closes the socket with ``code`` and sends nothing before."""
        await expect_closed(self.ws, code)

    async def expect_fatal(self, error_type: str, message: str) -> None:
        """groovejet's error frame, exactly, then the server's close (1000)."""
        frame = await self.next()
        assert frame == {"type": "error", "errorType": error_type, "errorMessage": message}
        await self.expect_closed(1000)

    async def create_room(self) -> str:
        await self.send({"type": "createRoom"})
        created = await self.next()
        assert created["type"] == "createdRoom" and list(created["data"]) == ["roomCode"]
        code: str = created["data"]["roomCode"]
        assert CODE.match(code)
        return code

    async def join_room(self, code: str) -> None:
        """joinRoom as pearl sends it: ``data: {roomCode}`` and no canHost."""
        await self.send({"type": "joinRoom", "data": {"roomCode": code}})
        assert await self.next() == {"type": "joinedRoom", "data": {"isHost": False}}


class WatchedBackend(MemoryBackend):
    """The memory backend, telling waiters whenever a unit of work saved or removed a lobby."""

    def __init__(self) -> None:
        super().__init__()
        self._changed = asyncio.Event()

    def save_lobby(self, lobby: Lobby) -> None:
        super().save_lobby(lobby)
        self._changed.set()

    def remove_lobby(self, lobby_id: LobbyId) -> None:
        super().remove_lobby(lobby_id)
        self._changed.set()

    async def wait_until(self, condition: Callable[[], bool]) -> None:
        """Wait (at most EVENT_TIMEOUT) for a change after which ``condition()`` holds."""
        async with asyncio.timeout(EVENT_TIMEOUT):
            while not condition():
                self._changed.clear()
                await self._changed.wait()

    def seat_empty(self, code: str) -> bool:
        lobby = self.get_lobby(LobbyId(f"groovejet:{code}"))
        return lobby is not None and lobby.host.connection_id is None

    def gone(self, code: str) -> bool:
        return self.get_lobby(LobbyId(f"groovejet:{code}")) is None


def _config(*, scale: float = 1.0, limits: Limits | None = None) -> ServerConfig:
    return ServerConfig(
        host="127.0.0.1",
        port=0,
        limits=limits or Limits(password_hash_iterations=1),
        timeouts=Timeouts(close_timeout=scaled(2.0)),
        dialect_time_scale=scale,
    )


@contextlib.asynccontextmanager
async def _server(
    *, scale: float = 1.0, limits: Limits | None = None, backend: MemoryBackend | None = None
) -> AsyncIterator[SignallingServer]:
    async with serve(_config(scale=scale, limits=limits), backend=backend) as server:
        yield server


async def _http_get(server: SignallingServer, path: str) -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()
        )
        async with asyncio.timeout(EVENT_TIMEOUT):
            reply = await reader.read()
    finally:
        writer.close()
        await writer.wait_closed()
    head, _, body = reply.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


async def test_pearl_host_and_guest_swap_offer_and_answer() -> None:
    """pearl's order and shapes: identity, createRoom, joinRoom, guest offer to host with clientId, answer to guest."""
    async with _server() as server:
        host = await Pearl.connect(server)
        code = await host.create_room()
        guest = await Pearl.connect(server, "/groovejet/production")  # any subpath
        await guest.join_room(code)
        await guest.send({"type": "guestOfferSignal", "data": {"offerSignal": OFFER}})
        assert await host.next() == {
            "type": "guestOfferSignal",
            "data": {"offerSignal": OFFER, "clientId": guest.client_id},
        }
        await host.send(
            {
                "type": "hostAnswerSignal",
                "data": {"answerSignal": ANSWER, "clientId": guest.client_id},
            }
        )
        assert await guest.next() == {"type": "hostAnswerSignal", "data": {"answerSignal": ANSWER}}


async def test_answers_reach_only_their_guest() -> None:
    """With two guests, each answer goes to the guest it names; the other hears nothing in between."""
    async with _server() as server:
        host = await Pearl.connect(server)
        code = await host.create_room()
        first, second = await Pearl.connect(server), await Pearl.connect(server)
        await first.join_room(code)
        await second.join_room(code)
        for guest in (first, second):
            await guest.send({"type": "guestOfferSignal", "data": {"offerSignal": OFFER}})
            assert (await host.next())["data"]["clientId"] == guest.client_id
        for guest, marker in ((second, "to-second"), (first, "to-first")):
            answer = {"type": "answer", "sdp": marker}
            await host.send(
                {
                    "type": "hostAnswerSignal",
                    "data": {"answerSignal": answer, "clientId": guest.client_id},
                }
            )
        # Each guest's first frame is its own answer: nothing for the other came before it.
        assert (await first.next())["data"]["answerSignal"]["sdp"] == "to-first"
        assert (await second.next())["data"]["answerSignal"]["sdp"] == "to-second"


async def test_missing_and_unknown_codes_are_one_error_frame_then_a_close() -> None:
    """missingRoomCode and noRoomFound over the wire: exact frames, then close 1000."""
    async with _server() as server:
        missing = await Pearl.connect(server)
        await missing.send({"type": "joinRoom"})
        await missing.expect_fatal("missingRoomCode", "Missing room code in request")
        unknown = await Pearl.connect(server)
        await unknown.send({"type": "joinRoom", "data": {"roomCode": "zz9zz"}})
        await unknown.expect_fatal("noRoomFound", "No room exists with code zz9zz")


async def test_an_empty_seat_is_refused_then_retaken_over_the_wire() -> None:
    """After the host leaves: no canHost gets hostDisconnected and a close; canHost takes the seat; guests stay."""
    backend = WatchedBackend()
    async with _server(backend=backend) as server:
        host = await Pearl.connect(server)
        code = await host.create_room()
        guest = await Pearl.connect(server)
        await guest.join_room(code)
        await host.ws.close()
        await backend.wait_until(lambda: backend.seat_empty(code))
        joiner = await Pearl.connect(server)
        await joiner.send({"type": "joinRoom", "data": {"roomCode": code}})
        await joiner.expect_fatal("hostDisconnected", f"No host connected for room {code}")
        new_host = await Pearl.connect(server)
        await new_host.send({"type": "joinRoom", "data": {"roomCode": code, "canHost": True}})
        assert await new_host.next() == {"type": "joinedRoom", "data": {"isHost": True}}
        # The guest was told nothing: its first frame since joining is the new host's answer.
        await guest.send({"type": "guestOfferSignal", "data": {"offerSignal": OFFER}})
        assert (await new_host.next())["data"]["clientId"] == guest.client_id
        await new_host.send(
            {
                "type": "hostAnswerSignal",
                "data": {"answerSignal": ANSWER, "clientId": guest.client_id},
            }
        )
        assert await guest.next() == {"type": "hostAnswerSignal", "data": {"answerSignal": ANSWER}}


async def test_a_host_less_room_is_deleted_after_the_scaled_ten_minutes() -> None:
    """With dialect_time_scale 0.0005 the room goes 0.3 s after its host left; joins then get noRoomFound."""
    backend = WatchedBackend()
    async with _server(scale=0.0005, backend=backend) as server:
        host = await Pearl.connect(server)
        code = await host.create_room()
        await host.ws.close()
        await backend.wait_until(lambda: backend.gone(code))
        late = await Pearl.connect(server)
        await late.send({"type": "joinRoom", "data": {"roomCode": code, "canHost": True}})
        await late.expect_fatal("noRoomFound", f"No room exists with code {code}")


async def test_bad_frames_are_ignored_and_the_connection_stays_usable() -> None:
    """Invalid JSON, binary, unknown types and frames over max_frame_bytes get no answer; the socket works on."""
    limits = Limits(password_hash_iterations=1, max_frame_bytes=1024, hard_frame_bytes=4096)
    async with _server(limits=limits) as server:
        client = await Pearl.connect(server)
        for frame in (
            "not json",
            b"\x00binary",
            "[]",
            '{"type":"nope"}',
            '{"type":"createRoom","pad":"' + "x" * 2000 + '"}',
        ):
            await client.ws.send(frame)
        await client.send(
            {"action": "start_lobby", "content": {}}
        )  # protocol v1 means nothing here
        assert CODE.match(await client.create_room())  # the first frame back answers this
        too_big = await Pearl.connect(server)
        await too_big.ws.send("x" * 5000)
        await too_big.expect_closed(1009)


async def test_rooms_per_address_close_the_socket_with_1013() -> None:
    """Past lobbies_per_address, createRoom gets no frame: the server closes with 1013."""
    limits = Limits(password_hash_iterations=1, lobbies_per_address=1)
    async with _server(limits=limits) as server:
        address = f"127.0.0.{next(_addresses)}"
        first = await Pearl.connect(server, address=address)
        await first.create_room()
        second = await Pearl.connect(server, address=address)
        await second.send({"type": "createRoom"})
        await second.expect_closed(1013)
        assert second.ws.close_reason == "too many rooms from this address"


async def test_paths_health_and_the_native_protocol_beside_groovejet() -> None:
    """Only /groovejet and paths under it speak groovejet; /healthz counts its rooms; native clients cannot reach them."""
    async with _server() as server:
        host = await Pearl.connect(server, "/groovejet/")
        code = await host.create_room()
        with pytest.raises(InvalidStatus) as refused:
            await Pearl.connect(server, "/groovejetx")
        assert refused.value.response.status_code == 404
        status, body = await _http_get(server, "/healthz")
        assert status == 200 and json.loads(body)["lobbies"] == 1
        native = await WsClient.open(server.url, f"127.0.0.{next(_addresses)}")
        try:
            for lobby_id in (code, f"groovejet:{code}"):
                await native.act("join_lobby", lobby_id=lobby_id)
                await native.expect_error("lobby_not_found")
            await native.act("start_lobby")
            native_code = (await native.expect("lobby_started"))["lobby_id"]
        finally:
            await native.close()
        joiner = await Pearl.connect(server)
        await joiner.send({"type": "joinRoom", "data": {"roomCode": native_code, "canHost": True}})
        await joiner.expect_fatal("noRoomFound", f"No room exists with code {native_code}")
        guest = await Pearl.connect(server)
        await guest.join_room(code)
        await guest.send({"type": "guestOfferSignal", "data": {"offerSignal": OFFER}})
        # The host's first frame since createdRoom: nothing of the native traffic reached it.
        assert (await host.next())["data"]["clientId"] == guest.client_id
