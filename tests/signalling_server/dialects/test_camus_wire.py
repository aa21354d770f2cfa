"""The Camus dialect over the wire: real HTTP and websocket clients against a server on 127.0.0.1 port 0."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from signalling_server import Limits, ServerConfig, SignallingServer, Timeouts, serve
from signalling_server.ice import IceConfig, TurnSecretServer
from tests.signalling_server.transport_harness import RawAnswer, http_exchange, http_request
from tests.timeouts import scaled

GROUND_CONTROL = "ground control"
EVENT_TIMEOUT = scaled(3.0)
OFFER = {"type": "offer", "sdp": "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\n"}
ANSWER = {"type": "answer", "sdp": "v=0\r\no=- 3 4 IN IP4 127.0.0.1\r\ns=-\r\n"}
CANDIDATE = {"candidate": "candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host", "sdpMid": "0"}
FORM = "application/x-www-form-urlencoded"


def _config(**options: Any) -> ServerConfig:
    options.setdefault("limits", Limits(password_hash_iterations=1))
    return ServerConfig(
        host="127.0.0.1",
        port=0,
        timeouts=Timeouts(close_timeout=scaled(2.0)),
        web_root=None,
        **options,
    )


@contextlib.asynccontextmanager
async def _server(**options: Any) -> AsyncIterator[SignallingServer]:
    async with serve(_config(**options)) as server:
        yield server


async def _http(
    server: SignallingServer,
    method: str,
    path: str,
    body: bytes = b"",
    *headers: tuple[str, str],
) -> RawAnswer:
    return await http_exchange(server.port, http_request(method, path, body, *headers))


async def _post_form(server: SignallingServer, path: str, **fields: str) -> RawAnswer:
    return await _http(server, "POST", path, urlencode(fields).encode(), ("Content-Type", FORM))


def _cookie(answer: RawAnswer) -> str:
    """The ``name=value`` part of the answer's Set-Cookie."""
    assert "set-cookie" in answer.headers, answer
    return answer.headers["set-cookie"].partition(";")[0]


async def _member(server: SignallingServer, slug: str) -> str:
    """A new member's cookie, from a visit to the room page."""
    answer = await _http(server, "GET", f"/camus/room/{slug}")
    assert answer.status == 200, answer
    return _cookie(answer)


async def _create(server: SignallingServer, name: str, **fields: str) -> str:
    answer = await _post_form(server, "/camus/", room_name=name, **fields)
    assert answer.status == 307, answer
    location = answer.headers["location"]
    return location.removeprefix("/camus/room/")


class CamusClient:
    """A Camus rtcclient's signaller, reduced to its frames."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.id = ""

    async def send(self, receiver: str, kind: str, data: Any = None) -> None:
        await self.ws.send(json.dumps({"receiver": receiver, "type": kind, "data": data}))

    async def next(self) -> dict[str, Any]:
        try:
            async with asyncio.timeout(EVENT_TIMEOUT):
                frame = await self.ws.recv()
        except TimeoutError:
            raise AssertionError(f"no frame within {EVENT_TIMEOUT} s") from None
        assert isinstance(frame, str)
        message: dict[str, Any] = json.loads(frame)
        return message

    async def learn_id(self) -> str:
        """As the client starts: ping ground control, take its own id from the pong's receiver."""
        stamp = int(time.time() * 1000)
        await self.send(GROUND_CONTROL, "ping", stamp)
        pong = await self.next()
        assert (pong["sender"], pong["type"], pong["data"]) == (GROUND_CONTROL, "pong", stamp)
        self.id = pong["receiver"]
        return self.id

    async def expect_closed(self) -> int | None:
        """The server closes the socket before sending anything else; its close code."""
        try:
            async with asyncio.timeout(EVENT_TIMEOUT):
                frame = await self.ws.recv()
        except ConnectionClosed:
            return self.ws.close_code
        raise AssertionError(f"expected a close, got {frame!r}")


def _ws_url(server: SignallingServer, slug: str) -> str:
    return f"ws://127.0.0.1:{server.port}/camus/room/{slug}/ws"


@contextlib.asynccontextmanager
async def _socket(server: SignallingServer, slug: str, cookie: str) -> AsyncIterator[CamusClient]:
    async with connect(
        _ws_url(server, slug),
        additional_headers={"Cookie": cookie},
        proxy=None,
        open_timeout=EVENT_TIMEOUT,
        close_timeout=EVENT_TIMEOUT,
    ) as ws:
        yield CamusClient(ws)


async def _refused(server: SignallingServer, slug: str, cookie: str | None = None) -> int:
    headers = {} if cookie is None else {"Cookie": cookie}
    with pytest.raises(InvalidStatus) as caught:
        async with connect(
            _ws_url(server, slug),
            additional_headers=headers,
            proxy=None,
            open_timeout=EVENT_TIMEOUT,
        ):
            pass
    return caught.value.response.status_code


# The real client's flow ----------------------------------------------------------------------------


async def test_the_rtcclient_flow_from_the_create_form_to_bye() -> None:
    """Create form, 307, room page and cookie, socket; ping, ice, room-info, profile, relays, bye: as rtcclient does."""
    ice = IceConfig(
        turn_secret=(TurnSecretServer(urls=("turn:127.0.0.1:3478",), secret="s", ttl_s=60),)
    )
    async with _server(ice=ice) as server:
        landing = await _http(server, "GET", "/camus/")
        assert landing.status == 200 and b'name="room_name"' in landing.body
        fields = {"room_name": "Game Night", "password": "", "public": "No", "guest_limit": "0"}
        created = await _post_form(server, "/camus/", **fields)
        assert (created.status, created.headers["location"]) == (307, "/camus/room/game-night")
        # The browser posts the same form to the room page.
        page = await _post_form(server, "/camus/room/game-night", **fields)
        assert page.status == 200 and page.headers["content-type"].startswith("text/html")
        ann_cookie = _cookie(page)
        bob_cookie = await _member(server, "game-night")
        async with (
            _socket(server, "game-night", ann_cookie) as ann,
            _socket(server, "game-night", bob_cookie) as bob,
        ):
            await ann.learn_id()
            await bob.learn_id()
            assert ann.id != bob.id and len(ann.id) == 32
            await ann.send(GROUND_CONTROL, "get-ice-servers")
            ice_servers = await ann.next()
            [server_entry] = ice_servers["data"]
            assert server_entry["urls"] == ["turn:127.0.0.1:3478"]
            assert server_entry["username"].endswith(":" + ann.id)
            await ann.send(GROUND_CONTROL, "get-room-info")
            info = await ann.next()
            assert info == {
                "sender": GROUND_CONTROL,
                "receiver": ann.id,
                "type": "room-info",
                "data": {
                    "room_id": "game-night",
                    "clients": [
                        {"id": ann.id, "username": "Major Tom"},
                        {"id": bob.id, "username": "Major Tom"},
                    ],
                },
            }
            await ann.send(GROUND_CONTROL, "profile", {"username": "Ann"})
            for client in (ann, bob):
                renamed = await client.next()
                assert renamed["type"] == "room-info" and renamed["receiver"] == client.id
                assert renamed["data"]["clients"][0] == {"id": ann.id, "username": "Ann"}
            # The peer with the smaller id offers; here either way round is fine.
            await ann.send(bob.id, "offer", OFFER)
            assert await bob.next() == {
                "sender": ann.id,
                "receiver": bob.id,
                "type": "offer",
                "data": OFFER,
            }
            await bob.send(ann.id, "answer", ANSWER)
            assert (await ann.next())["data"] == ANSWER
            await bob.send(ann.id, "icecandidate", CANDIDATE)
            assert (await ann.next())["sender"] == bob.id
            text = {"from": "Ann", "time": 1, "text": "hi all"}
            await ann.send("room", "text", text)
            for client in (ann, bob):
                assert await client.next() == {
                    "sender": ann.id,
                    "receiver": client.id,
                    "type": "text",
                    "data": text,
                }
            # Leaving, as Signaler.shutdown does: bye to each peer, bye to ground control.
            await ann.send(bob.id, "bye", 5)
            assert (await bob.next())["type"] == "bye"
            await ann.send(GROUND_CONTROL, "bye", 6)
            left = await bob.next()
            assert left["data"]["clients"] == [{"id": bob.id, "username": "Major Tom"}]
            assert await ann.expect_closed() == 1000
        assert await _refused(server, "game-night", ann_cookie) == 403


async def test_unknown_types_and_bad_frames_never_break_the_socket() -> None:
    """Unknown types get the Camus error; junk, binary and relays to strangers get nothing; the socket stays."""
    async with _server() as server:
        slug = await _create(server, "Den")
        async with _socket(server, slug, await _member(server, slug)) as ann:
            await ann.learn_id()
            await ann.send(GROUND_CONTROL, "launch")
            error = await ann.next()
            assert (error["type"], error["data"]) == ("error", "Unknown message type: launch")
            for junk in ("not json", "[]", '{"receiver": 3}', b"\x00\x01", "{" * 5000):
                await ann.ws.send(junk)
            await ann.send("f" * 32, "offer", OFFER)
            await ann.send("room", "text", {"text": "still here"})
            assert (await ann.next())["data"] == {"text": "still here"}


# HTTP statuses --------------------------------------------------------------------------------------


async def test_taken_names_unknown_rooms_and_full_rooms() -> None:
    """Taken name or slug: 200 with the Camus text; unknown room: 404; full room: 418 with its text."""
    async with _server() as server:
        assert await _create(server, "Den", guest_limit="2") == "den"
        for name in ("Den", "DEN!"):
            taken = await _post_form(server, "/camus/", room_name=name)
            assert taken.status == 200
            assert f"The room name &quot;{name}&quot; is not available".encode() in taken.body
        assert (await _http(server, "GET", "/camus/room/nowhere")).status == 404
        assert (await _post_form(server, "/camus/room/nowhere", password="x")).status == 404
        await _member(server, "den")
        await _member(server, "den")
        full = await _http(server, "GET", "/camus/room/den")
        assert (full.status, full.body) == (418, b"Guest limit already reached")
        assert "set-cookie" not in full.headers
        health = json.loads((await _http(server, "GET", "/healthz")).body)
        assert health["lobbies"] == 1


async def test_a_password_room_by_json_form_and_password_page() -> None:
    """JSON create; GET shows the password form (no cookie); wrong password 401 'Invalid password'; right one 200 + cookie."""
    async with _server() as server:
        body = json.dumps({"room_name": "Vault", "password": "pw", "guest_limit": 3}).encode()
        created = await _http(server, "POST", "/camus/", body, ("Content-Type", "application/json"))
        assert (created.status, created.headers["location"]) == (307, "/camus/room/vault")
        form = await _http(server, "GET", "/camus/room/vault")
        assert form.status == 200 and b'name="password"' in form.body
        assert "set-cookie" not in form.headers
        wrong = await _post_form(server, "/camus/room/vault", password="nope")
        assert wrong.status == 401 and b"Invalid password" in wrong.body
        assert "set-cookie" not in wrong.headers
        right = await _post_form(server, "/camus/room/vault", password="pw")
        assert right.status == 200
        async with _socket(server, "vault", _cookie(right)) as member:
            assert len(await member.learn_id()) == 32


async def test_invalid_create_forms_show_the_form_again() -> None:
    """No name, a bad guest limit, an unreadable body or an overlong name: 200 with the form and no room."""
    async with _server() as server:
        for fields in ({"room_name": "  "}, {"room_name": "Den", "guest_limit": "7"}):
            again = await _post_form(server, "/camus/", **fields)
            assert again.status == 200 and b'name="room_name"' in again.body
        junk = await _http(server, "POST", "/camus/", b"{", ("Content-Type", "application/json"))
        assert junk.status == 200
        long_name = await _post_form(server, "/camus/", room_name="x" * 65)
        assert long_name.status == 200 and b"at most 64" in long_name.body
        assert json.loads((await _http(server, "GET", "/healthz")).body)["lobbies"] == 0


async def test_the_websocket_is_refused_before_the_upgrade() -> None:
    """Unknown room: 404; no cookie, or another room's cookie: 403; a non-/ws path: 404."""
    async with _server() as server:
        den = await _create(server, "Den")
        other = await _create(server, "Other")
        other_cookie = await _member(server, other)
        assert await _refused(server, "nowhere", await _member(server, den)) == 404
        assert await _refused(server, den) == 403
        assert await _refused(server, den, other_cookie) == 403
        with pytest.raises(InvalidStatus) as caught:
            async with connect(
                f"ws://127.0.0.1:{server.port}/camus/room/{den}",
                proxy=None,
                open_timeout=EVENT_TIMEOUT,
            ):
                pass
        assert caught.value.response.status_code == 404


async def test_a_second_socket_with_the_same_cookie_takes_the_member_over() -> None:
    """The new socket gets the member's frames; the old one is closed with 4000."""
    async with _server() as server:
        slug = await _create(server, "Den")
        cookie = await _member(server, slug)
        async with _socket(server, slug, cookie) as old:
            member_id = await old.learn_id()
            async with _socket(server, slug, cookie) as new:
                assert await old.expect_closed() == 4000
                assert await new.learn_id() == member_id


async def test_dialect_http_routes_spend_the_address_budget() -> None:
    """Past http_requests_per_address_per_minute, Camus pages answer 429."""
    limits = Limits(password_hash_iterations=1, http_requests_per_address_per_minute=2)
    async with _server(limits=limits) as server:
        statuses = [(await _http(server, "GET", "/camus/")).status for _ in range(3)]
    assert statuses == [200, 200, 429]


async def test_the_camus_web_client_is_served_from_camus_web_root(tmp_path: Path) -> None:
    """With camus_web_root the room page loads the client (and Bootstrap if given) from /camus/static; else no script."""
    (tmp_path / "dist").mkdir()
    (tmp_path / "dist" / "index.js").write_text("/* the client */")
    (tmp_path / "css").mkdir()
    (tmp_path / "css" / "bootstrap.min.css").write_text("/* bootstrap */")
    async with _server(camus_web_root=tmp_path) as server:
        slug = await _create(server, "Den")
        page = await _http(server, "GET", f"/camus/room/{slug}")
        assert b'<script src="/camus/static/dist/index.js"></script>' in page.body
        assert b'href="/camus/static/css/bootstrap.min.css"' in page.body
        assert "script-src 'self'" in page.headers["content-security-policy"]
        script = await _http(server, "GET", "/camus/static/dist/index.js")
        assert (script.status, script.body) == (200, b"/* the client */")
        assert (await _http(server, "GET", "/camus/static/../x.js")).status == 404
    async with _server() as server:
        slug = await _create(server, "Den")
        page = await _http(server, "GET", f"/camus/room/{slug}")
        assert page.status == 200 and b"<script" not in page.body
        assert (await _http(server, "GET", "/camus/static/dist/index.js")).status == 404


# Timers over the wire ---------------------------------------------------------------------------------


async def test_a_silent_member_is_pinged_then_reaped_and_the_rest_told() -> None:
    """dialect_time_scale 0.02: a member answering nothing gets ping, then bye and a close; the other gets room-info."""
    async with _server(dialect_time_scale=0.02) as server:
        slug = await _create(server, "Den")
        quiet_cookie = await _member(server, slug)
        async with (
            _socket(server, slug, quiet_cookie) as quiet,
            _socket(server, slug, await _member(server, slug)) as alive,
        ):
            quiet_id = await quiet.learn_id()
            alive_id = await alive.learn_id()
            timeout = scaled(10.0)
            ping = await asyncio.wait_for(quiet.next(), timeout)
            assert (ping["sender"], ping["type"], ping["receiver"]) == (
                GROUND_CONTROL,
                "ping",
                quiet_id,
            )
            # The live one answers its pings, as the Camus client does, until it hears of the reaping.
            while True:
                message = await asyncio.wait_for(alive.next(), timeout)
                if message["type"] == "ping":
                    await alive.send(GROUND_CONTROL, "pong", message["data"])
                    continue
                assert message["type"] == "room-info"
                assert message["data"]["clients"] == [{"id": alive_id, "username": "Major Tom"}]
                break
            frames = []
            with contextlib.suppress(ConnectionClosed):
                while True:
                    frames.append(await asyncio.wait_for(quiet.ws.recv(), timeout))
            assert json.loads(frames[-1])["type"] == "bye"
            assert quiet.ws.close_code == 1000
        assert await _refused(server, slug, quiet_cookie) == 403
