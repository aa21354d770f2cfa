"""A protocol v1 test client over a real websocket, and a lab of servers and clients.

Every socket is on loopback: servers listen on 127.0.0.1, clients bind a
127.0.0.N source address of their own (the server limits joins and lobbies per
source address, so distinct addresses keep tests from sharing a budget).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
from collections.abc import AsyncIterator
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from signalling_server import Limits, ServerConfig, SignallingServer, Timeouts, serve
from tests.timeouts import scaled

CODE = re.compile(r"^[0-9A-HJKMNP-TV-Z]{6}$")
OFFER = {"type": "offer", "sdp": "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\n"}
ANSWER = {"type": "answer", "sdp": "v=0\r\no=- 3 4 IN IP4 127.0.0.1\r\ns=-\r\n"}
CANDIDATE = {
    "candidate": "candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host",
    "sdpMid": "0",
    "sdpMLineIndex": 0,
}
#: Long enough never to run out during a test; short ones are set where a timer must fire.
LONG = scaled(30.0)
SHORT = scaled(0.3)

#: How long a test waits for an event that must come.
EVENT_TIMEOUT = scaled(3.0)

_ping_values = itertools.count(1)


async def expect_closed(ws: ClientConnection, code: int) -> None:
    """The server closes ``ws`` with ``code`` and sends nothing before (any protocol)."""
    try:
        async with asyncio.timeout(EVENT_TIMEOUT):
            frame = await ws.recv()
    except TimeoutError:
        raise AssertionError(f"not closed within {EVENT_TIMEOUT} s") from None
    except ConnectionClosed:
        pass
    else:
        raise AssertionError(f"expected the connection to close, got {frame!r}")
    assert ws.close_code == code, (ws.close_code, ws.close_reason)


class WsClient:
    """One websocket connection speaking protocol v1, with checks for what it receives."""

    def __init__(self, ws: ClientConnection, address: str) -> None:
        self.ws = ws
        self.address = address
        #: The server's ``connection_id`` for this socket, once an event has told it.
        self.id = ""

    @classmethod
    async def open(cls, url: str, address: str = "127.0.0.1") -> WsClient:
        """Connect to ``url`` from the loopback source ``address``."""
        ws = await connect(
            url,
            local_addr=(address, 0),
            proxy=None,  # never let an environment proxy take loopback traffic elsewhere
            open_timeout=EVENT_TIMEOUT,
            close_timeout=EVENT_TIMEOUT,
        )
        return cls(ws, address)

    async def act(self, action: str, ref: str | None = None, **content: Any) -> None:
        """Send an action (content as keyword arguments)."""
        frame: dict[str, Any] = {"action": action, "content": content}
        if ref is not None:
            frame["ref"] = ref
        await self.ws.send(json.dumps(frame))

    async def raw(self, frame: str | bytes) -> None:
        """Send a frame as is (``bytes`` go as a binary frame)."""
        await self.ws.send(frame)

    async def next(self) -> dict[str, Any]:
        """The next event, decoded; fails when none comes in time or the socket closes."""
        try:
            async with asyncio.timeout(EVENT_TIMEOUT):
                frame = await self.ws.recv()
        except TimeoutError:
            raise AssertionError(f"no event within {EVENT_TIMEOUT} s") from None
        except ConnectionClosed as exc:
            raise AssertionError(f"expected an event, the connection closed: {exc}") from None
        assert isinstance(frame, str), f"expected a text frame, got {frame!r}"
        message: dict[str, Any] = json.loads(frame)
        return message

    async def expect(self, event: str, ref: str | None = None) -> dict[str, Any]:
        """Take the next event, check its name (and ``ref`` if given), return its content."""
        message = await self.next()
        assert message.get("event") == event, f"expected {event}, got {message}"
        if ref is not None:
            assert message.get("ref") == ref, message
        content: dict[str, Any] = message["content"]
        return content

    async def expect_error(self, code: str, action: str | None = None) -> dict[str, Any]:
        """Take the next event: an ``error`` with this code (and action, if given)."""
        content = await self.expect("error")
        assert content["code"] == code, content
        assert isinstance(content["message"], str) and content["message"], content
        if action is not None:
            assert content["action"] == action, content
        return content

    async def assert_silent(self) -> None:
        """Nothing arrived but what was already taken: a fresh ping's pong comes next."""
        t = f"silence-{next(_ping_values)}"
        await self.act("ping", t=t)
        message = await self.next()
        assert message == {"event": "pong", "content": {"t": t}}, f"unexpected event: {message}"

    async def expect_closed(self, code: int) -> None:
        """The server closes the socket with ``code`` before sending anything else."""
        await expect_closed(self.ws, code)

    async def close(self) -> None:
        await self.ws.close()


def loopback_config(
    *, limits: Limits | None = None, timeouts: Timeouts | None = None
) -> ServerConfig:
    """A loopback server config on port 0 with fast password hashing and short close waits."""
    return ServerConfig(
        host="127.0.0.1",
        port=0,
        limits=limits or Limits(password_hash_iterations=1),
        timeouts=timeouts or Timeouts(close_timeout=scaled(2.0)),
    )


class Lab:
    """A running server and the clients a test opened on it (each from its own address)."""

    def __init__(self, server: SignallingServer) -> None:
        self.server = server
        self.clients: list[WsClient] = []
        self._addresses = itertools.count(10)

    @property
    def url(self) -> str:
        return self.server.url

    async def client(self, address: str | None = None) -> WsClient:
        """A new connection; ``address`` defaults to a loopback address no one else used."""
        if address is None:
            address = f"127.0.0.{next(self._addresses)}"
        client = await WsClient.open(self.url, address)
        self.clients.append(client)
        return client

    async def host(self, **content: Any) -> tuple[WsClient, dict[str, Any]]:
        """A client that started a lobby: ``(host, lobby_started content)``."""
        host = await self.client()
        await host.act("start_lobby", **content)
        started = await host.expect("lobby_started")
        host.id = started["connection_id"]
        return host, started

    async def joiner(
        self, host: WsClient, lobby_id: str, name: str = "Guest", **extra: Any
    ) -> WsClient:
        """A client whose join request is pending; the host has seen ``request_to_join``."""
        joiner = await self.client(extra.pop("address", None))
        await joiner.act("join_lobby", lobby_id=lobby_id, name=name, **extra)
        await joiner.expect("join_requested")
        request = await host.expect("request_to_join")
        assert request["name"] == name, request
        joiner.id = request["connection_id"]
        return joiner

    async def guest(
        self, host: WsClient, lobby_id: str, name: str = "Guest", **extra: Any
    ) -> tuple[WsClient, dict[str, Any]]:
        """An accepted guest: ``(guest, request_accepted content)``."""
        guest = await self.joiner(host, lobby_id, name, **extra)
        await host.act("accept_request", connection_id=guest.id)
        accepted = await guest.expect("request_accepted")
        await host.expect("guest_accepted")
        return guest, accepted

    async def close_clients(self) -> None:
        for client in self.clients:
            await client.close()


@contextlib.asynccontextmanager
async def open_lab(
    *, limits: Limits | None = None, timeouts: Timeouts | None = None
) -> AsyncIterator[Lab]:
    """A server on 127.0.0.1 port 0 for the block; every client is closed at the end."""
    async with serve(loopback_config(limits=limits, timeouts=timeouts)) as server:
        lab = Lab(server)
        try:
            yield lab
        finally:
            await lab.close_clients()


def short_timeouts(**timers: float) -> Timeouts:
    """Timeouts with these timers set and a short close wait."""
    return Timeouts(close_timeout=scaled(2.0), **timers)
