"""The light load generator's client against a real websockets server on loopback.

Each test starts websockets' own asyncio server on port 0 and drives one
``RawClient``: the handshake, messages both ways (with and without
permessage-deflate), pings answered, closes from either side, and a frame the
client must refuse failing the connection instead of being skipped.
"""

from __future__ import annotations

import asyncio
import http
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, Literal

import pytest
from websockets.asyncio.server import Server, ServerConnection, serve

from tests.benchmarks.relay.frames import FrameError
from tests.benchmarks.relay.raw_client import LinkClosed, RawClient, open_raw
from tests.timeouts import scaled

SOURCE = "127.0.1.7"
Handler = Callable[[ServerConnection], Awaitable[None]]


@asynccontextmanager
async def running(
    handler: Handler, compression: Literal["deflate"] | None = None, **options: Any
) -> AsyncIterator[str]:
    """websockets' server on a loopback port; yields its URL."""
    server: Server
    async with serve(handler, "127.0.0.1", 0, compression=compression, **options) as server:
        port = server.sockets[0].getsockname()[1]
        yield f"ws://127.0.0.1:{port}/"


class Inbox:
    """What a client received, and the failures it reported."""

    def __init__(self) -> None:
        self.messages: asyncio.Queue[bytes] = asyncio.Queue()
        self.failures: asyncio.Queue[BaseException] = asyncio.Queue()

    def attach(self, client: RawClient) -> None:
        client.attach(
            lambda payload, now: self.messages.put_nowait(payload), self.failures.put_nowait
        )

    async def message(self) -> bytes:
        async with asyncio.timeout(scaled(5)):
            return await self.messages.get()

    async def failure(self) -> BaseException:
        async with asyncio.timeout(scaled(5)):
            return await self.failures.get()


async def echo(ws: ServerConnection) -> None:
    async for message in ws:
        await ws.send(message)


async def test_messages_round_trip_through_a_websockets_server() -> None:
    """Text sent by the raw client comes back whole, short and long, in order."""
    async with running(echo) as url:
        client = await open_raw(url, SOURCE, compression=False)
        inbox = Inbox()
        inbox.attach(client)
        texts = ["hello", "é" * 200, "x" * 70_000]
        for text in texts:
            client.write(text)
        assert [(await inbox.message()).decode() for _ in texts] == texts
        await client.close()


async def test_messages_round_trip_with_permessage_deflate() -> None:
    """When the server takes permessage-deflate, frames go through websockets' protocol."""
    async with running(echo, compression="deflate") as url:
        client = await open_raw(url, SOURCE, compression=True)
        inbox = Inbox()
        inbox.attach(client)
        texts = ["candidate " * 50, "short"]
        for text in texts:
            await client.send(text)
        assert [(await inbox.message()).decode() for _ in texts] == texts
        await client.close()


async def test_a_message_sent_right_after_the_handshake_is_held_until_attached() -> None:
    """A server that speaks first (PeerJS's OPEN) loses nothing before the flow attaches."""

    async def greet(ws: ServerConnection) -> None:
        await ws.send('{"type":"OPEN"}')
        await ws.wait_closed()

    async with running(greet) as url:
        client = await open_raw(url, SOURCE, compression=False)
        await asyncio.sleep(0)  # hold nothing back: the greeting may already be here
        inbox = Inbox()
        inbox.attach(client)
        assert await inbox.message() == b'{"type":"OPEN"}'
        await client.close()


async def test_a_server_ping_is_answered() -> None:
    """The server's ping gets its pong (websockets' ping() resolves)."""
    answered: asyncio.Future[float] = asyncio.get_running_loop().create_future()

    async def pinger(ws: ServerConnection) -> None:
        pong = await ws.ping(b"are you there")
        answered.set_result(await pong)
        await ws.wait_closed()

    async with running(pinger) as url:
        client = await open_raw(url, SOURCE, compression=False)
        async with asyncio.timeout(scaled(5)):
            await answered
        await client.close()


async def test_a_close_from_the_server_is_echoed_and_reported() -> None:
    """The server's close ends the connection cleanly and the flow hears why."""
    closed: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()

    async def closer(ws: ServerConnection) -> None:
        await ws.close(1001, "going away")
        closed.set_result(ws.close_code)

    async with running(closer) as url:
        client = await open_raw(url, SOURCE, compression=False)
        inbox = Inbox()
        inbox.attach(client)
        failure = await inbox.failure()
        assert isinstance(failure, LinkClosed) and "1001" in str(failure)
        async with asyncio.timeout(scaled(5)):
            assert await closed == 1001  # the close handshake completed on the server
            await client.closed
        with pytest.raises(LinkClosed):
            client.write("too late")


async def test_the_client_closes_with_a_normal_closure() -> None:
    """close() sends 1000 and returns once the server has closed."""
    codes: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()

    async def watcher(ws: ServerConnection) -> None:
        await ws.wait_closed()
        codes.set_result(ws.close_code)

    async with running(watcher) as url:
        client = await open_raw(url, SOURCE, compression=False)
        await client.close()
        async with asyncio.timeout(scaled(5)):
            assert await codes == 1000


async def test_a_binary_message_fails_the_connection() -> None:
    """A frame no server here sends is an error, reported, and the connection dropped."""

    async def binary(ws: ServerConnection) -> None:
        await ws.send(b"\x00\x01")
        await ws.wait_closed()

    async with running(binary) as url:
        client = await open_raw(url, SOURCE, compression=False)
        inbox = Inbox()
        inbox.attach(client)
        assert isinstance(await inbox.failure(), FrameError)
        async with asyncio.timeout(scaled(5)):
            await client.closed


async def test_a_refused_handshake_is_an_error() -> None:
    """An HTTP answer other than 101 makes open_raw raise, naming the handshake."""

    def refuse(connection: ServerConnection, request: Any) -> Any:
        return connection.respond(http.HTTPStatus.FORBIDDEN, "no\n")

    async with running(echo, process_request=refuse) as url:
        with pytest.raises(FrameError, match="handshake"):
            await open_raw(url, SOURCE, compression=False)
