"""Public-service hardening, end to end: trusted proxies, /64 budgets, Origin, connection caps.

Real servers on loopback port 0 and real websocket and HTTP clients. A
"proxy" is a client on 127.0.0.1 that sends ``X-Forwarded-For`` itself, as
nginx would for the client it speaks for; addresses it names are from the
documentation ranges and never leave this process.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import socket
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from signalling_server import Limits, SignallingServer, Timeouts, serve
from tests.ci import cannot_run
from tests.signalling_server.test_http_and_cli import fetch, metrics
from tests.signalling_server.wsclient import EVENT_TIMEOUT, WsClient, loopback_config
from tests.timeouts import scaled

PROXY = "127.0.0.1"


@contextlib.asynccontextmanager
async def hardened_server(**options: Any) -> AsyncIterator[SignallingServer]:
    """A loopback server on port 0 with these ``ServerConfig`` fields (limits too) changed."""
    limits = dataclasses.replace(Limits(password_hash_iterations=1), **options.pop("limits", {}))
    config = dataclasses.replace(loopback_config(limits=limits), **options)
    async with serve(config) as server:
        yield server


async def open_client(
    url: str,
    address: str,
    *,
    forwarded_for: str | None = None,
    origin: str | None = None,
) -> WsClient:
    """A protocol v1 client from ``address``, sending these headers."""
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for is not None else {}
    ws = await connect(
        url,
        local_addr=(address, 0),
        proxy=None,
        additional_headers=headers,
        origin=origin,  # type: ignore[arg-type]  # websockets types it as its Origin newtype
        open_timeout=EVENT_TIMEOUT,
        close_timeout=EVENT_TIMEOUT,
    )
    return WsClient(ws, address)


async def refused(url: str, address: str, **headers: Any) -> tuple[int, str]:
    """Open a websocket that the server must refuse: ``(status, body)``."""
    try:
        client = await open_client(url, address, **headers)
    except InvalidStatus as exc:
        response = exc.response
    else:
        await client.close()
        raise AssertionError(f"the server let {address} in with {headers}")
    return response.status_code, response.body.decode()


async def start_lobby(client: WsClient) -> dict[str, Any]:
    """Ask for a lobby; the next event (``lobby_started`` or an error) as a whole message."""
    await client.act("start_lobby")
    return await client.next()


class Clients:
    """Clients a test opened; all closed at the end."""

    def __init__(self) -> None:
        self.opened: list[WsClient] = []

    async def open(self, url: str, address: str, **headers: Any) -> WsClient:
        client = await open_client(url, address, **headers)
        self.opened.append(client)
        return client

    async def close(self) -> None:
        for client in self.opened:
            await client.close()


@pytest.fixture
async def clients() -> AsyncIterator[Clients]:
    """Websocket clients closed when the test ends."""
    opened = Clients()
    try:
        yield opened
    finally:
        await opened.close()


def was_refused(message: dict[str, Any]) -> bool:
    """Whether ``message`` is the ``rate_limited`` error."""
    return bool(message["event"] == "error" and message["content"]["code"] == "rate_limited")


# Trusted proxies and /64 budgets -------------------------------------------------------


async def test_trusted_proxy_names_the_client_and_ipv6_budgets_are_per_64(
    clients: Clients,
) -> None:
    """Behind a trusted proxy the budget is the forwarded client's, and a whole IPv6 /64 shares it."""
    async with hardened_server(
        trusted_proxies=(f"{PROXY}/32",), limits={"lobbies_per_address": 1}
    ) as server:
        first = await clients.open(server.url, PROXY, forwarded_for="2001:db8:1:2::a")
        assert (await start_lobby(first))["event"] == "lobby_started"
        same_64 = await clients.open(
            server.url, PROXY, forwarded_for="192.0.2.1, 2001:db8:1:2:ffff::b"
        )
        assert was_refused(await start_lobby(same_64))
        other_64 = await clients.open(server.url, PROXY, forwarded_for="2001:db8:1:3::a")
        assert (await start_lobby(other_64))["event"] == "lobby_started"
        ipv4 = await clients.open(server.url, PROXY, forwarded_for="203.0.113.5")
        assert (await start_lobby(ipv4))["event"] == "lobby_started"


async def test_forwarded_for_from_an_untrusted_peer_is_ignored(clients: Clients) -> None:
    """A client that is not a trusted proxy cannot pick its budget by sending the header."""
    async with hardened_server(
        trusted_proxies=(f"{PROXY}/32",), limits={"lobbies_per_address": 1}
    ) as server:
        first = await clients.open(server.url, "127.0.0.2", forwarded_for="203.0.113.1")
        assert (await start_lobby(first))["event"] == "lobby_started"
        second = await clients.open(server.url, "127.0.0.2", forwarded_for="203.0.113.2")
        assert was_refused(await start_lobby(second))


async def test_without_trusted_proxies_every_client_behind_a_proxy_shares_its_budget(
    clients: Clients,
) -> None:
    """By default the header is ignored even from 127.0.0.1: the peer is the client."""
    async with hardened_server(limits={"lobbies_per_address": 1}) as server:
        first = await clients.open(server.url, PROXY, forwarded_for="203.0.113.1")
        assert (await start_lobby(first))["event"] == "lobby_started"
        second = await clients.open(server.url, PROXY, forwarded_for="203.0.113.2")
        assert was_refused(await start_lobby(second))


@contextlib.contextmanager
def loopback_ipv6_addresses(*addresses: str) -> Iterator[None]:
    """Add ``addresses`` (2001:db8::/32) to ``lo`` of the suite's own network namespace."""
    if os.environ.get("LOBBYHOST_NETNS") != "1" or os.geteuid() != 0:
        cannot_run("adding addresses to lo needs root in the suite's own network namespace")
    added: list[str] = []
    try:
        for address in addresses:
            subprocess.run(
                ["ip", "-6", "addr", "add", f"{address}/128", "dev", "lo", "nodad"], check=True
            )
            added.append(address)
        yield
    finally:
        for address in added:
            subprocess.run(["ip", "-6", "addr", "del", f"{address}/128", "dev", "lo"], check=True)


async def test_real_ipv6_clients_of_one_64_share_a_budget(clients: Clients) -> None:
    """Sockets from two addresses of one /64 share its lobby budget; the next /64 does not."""
    server_address, a, b, c = (
        "2001:db8:ff::1",
        "2001:db8:1:2::a",
        "2001:db8:1:2::b",
        "2001:db8:1:3::a",
    )
    with loopback_ipv6_addresses(server_address, a, b, c):
        async with hardened_server(
            host=server_address, limits={"lobbies_per_address": 1}
        ) as server:
            assert (await start_lobby(await clients.open(server.url, a)))[
                "event"
            ] == "lobby_started"
            assert was_refused(await start_lobby(await clients.open(server.url, b)))
            assert (await start_lobby(await clients.open(server.url, c)))[
                "event"
            ] == "lobby_started"


async def open_after_header(url: str, port: int, address: str, header: bytes) -> WsClient:
    """A client from ``address`` that writes ``header`` (as a TCP proxy would) before its handshake."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((address, 0))
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
        await asyncio.get_running_loop().sock_sendall(sock, header)
        ws = await connect(
            url, sock=sock, proxy=None, open_timeout=EVENT_TIMEOUT, close_timeout=EVENT_TIMEOUT
        )
    except BaseException:
        sock.close()
        raise
    return WsClient(ws, address)


def proxy_v1(source: str) -> bytes:
    family = "TCP6" if ":" in source else "TCP4"
    destination = "2001:db8::1" if ":" in source else "198.51.100.1"
    return f"PROXY {family} {source} {destination} 5555 443\r\n".encode()


async def test_proxy_protocol_headers_from_a_trusted_proxy_name_the_client(
    clients: Clients,
) -> None:
    """With proxy_protocol, a trusted proxy's PROXY header decides whose budget a client spends."""
    async with hardened_server(
        trusted_proxies=(PROXY,), proxy_protocol=True, limits={"lobbies_per_address": 1}
    ) as server:
        url, port = server.url, server.port
        first = await open_after_header(url, port, PROXY, proxy_v1("2001:db8:1:2::a"))
        clients.opened.append(first)
        assert (await start_lobby(first))["event"] == "lobby_started"
        same_64 = await open_after_header(url, port, PROXY, proxy_v1("2001:db8:1:2::b"))
        clients.opened.append(same_64)
        assert was_refused(await start_lobby(same_64))
        other = await open_after_header(url, port, PROXY, proxy_v1("203.0.113.7"))
        clients.opened.append(other)
        assert (await start_lobby(other))["event"] == "lobby_started"
        # Clients that reach the server directly need no header.
        direct = await clients.open(url, "127.0.0.2")
        assert (await start_lobby(direct))["event"] == "lobby_started"


async def test_proxy_protocol_is_required_from_trusted_proxies_and_ignored_from_others() -> None:
    """A trusted proxy without a header, or anyone else sending one, gets 400."""
    async with hardened_server(trusted_proxies=(PROXY,), proxy_protocol=True) as server:
        status, body = await refused(server.url, PROXY)
        assert status == 400
        assert "PROXY protocol" in body
        with pytest.raises(InvalidStatus) as caught:
            await open_after_header(server.url, server.port, "127.0.0.2", proxy_v1("203.0.113.7"))
        assert caught.value.response.status_code == 400


# Origin --------------------------------------------------------------------------------


async def test_foreign_origins_get_403_with_a_sentence() -> None:
    """A page of another site cannot open the native websocket: 403 saying why."""
    async with hardened_server() as server:
        status, body = await refused(server.url, "127.0.0.3", origin="https://evil.example.net")
        samples = await metrics(server.port)
    assert samples['lobbyhost_connections_refused_total{reason="origin"}'] == 1
    assert status == 403
    assert "https://evil.example.net" in body and "--allowed-origin" in body


async def test_no_origin_and_the_servers_own_pages_are_allowed(clients: Clients) -> None:
    """Apps send no Origin; the guest page the server itself serves has its origin."""
    async with hardened_server() as server:
        for origin in (None, f"http://127.0.0.1:{server.port}"):
            client = await clients.open(server.url, "127.0.0.3", origin=origin)
            assert (await start_lobby(client))["event"] == "lobby_started"


async def test_listed_origins_are_allowed_and_the_wildcard_allows_all(clients: Clients) -> None:
    """--allowed-origin lets a game site's pages in; '*' lets every page in."""
    async with hardened_server(allowed_origins=("https://games.example.org",)) as server:
        client = await clients.open(server.url, "127.0.0.3", origin="https://games.example.org")
        await client.assert_silent()
        status, _ = await refused(server.url, "127.0.0.3", origin="https://evil.example.net")
        assert status == 403
    async with hardened_server(allowed_origins=("*",)) as server:
        client = await clients.open(server.url, "127.0.0.3", origin="https://evil.example.net")
        await client.assert_silent()


# Connections per address ---------------------------------------------------------------


async def open_when_admitted(url: str, address: str, **headers: Any) -> WsClient:
    """Open a client once the server has counted a closed connection of ``address`` out.

    The server learns of a close one loop turn after the client does; until
    then it still counts it and answers 429.
    """
    async with asyncio.timeout(EVENT_TIMEOUT):
        while True:
            try:
                return await open_client(url, address, **headers)
            except InvalidStatus as exc:
                status = exc.response.status_code
            assert status == 429, status
            await asyncio.sleep(0)  # next loop turn: the close is processed


async def test_open_connections_per_address_are_capped_with_429(clients: Clients) -> None:
    """Past the cap an address gets 429 with a sentence, for websockets and HTTP; others go on."""
    async with hardened_server(limits={"connections_per_address": 2}) as server:
        first = await clients.open(server.url, "127.0.0.5")
        await clients.open(server.url, "127.0.0.5")
        status, body = await refused(server.url, "127.0.0.5")
        assert status == 429
        assert "at most 2" in body
        other = await clients.open(server.url, "127.0.0.6")
        await other.assert_silent()

        await first.close()
        again = await open_when_admitted(server.url, "127.0.0.5")
        clients.opened.append(again)
        await again.assert_silent()
        samples = await metrics(server.port)
        assert samples['lobbyhost_connections_refused_total{reason="per_address"}'] >= 1


async def test_http_requests_count_against_the_connection_cap() -> None:
    """A plain HTTP request from an address at its cap gets 429 too."""
    async with hardened_server(limits={"connections_per_address": 1}) as server:
        client = await open_client(server.url, "127.0.0.1")
        try:
            answer = await fetch(server.port, "/healthz")  # the stdlib client comes from 127.0.0.1
            assert answer.status == 429, answer
        finally:
            await client.close()


async def test_behind_a_trusted_proxy_the_cap_is_per_forwarded_client(clients: Clients) -> None:
    """The proxy itself is not capped; each client it forwards is."""
    async with hardened_server(
        trusted_proxies=(PROXY,), limits={"connections_per_address": 1}
    ) as server:
        await clients.open(server.url, PROXY, forwarded_for="203.0.113.1")
        await clients.open(server.url, PROXY, forwarded_for="203.0.113.2")
        status, body = await refused(server.url, PROXY, forwarded_for="203.0.113.1")
        assert status == 429
        assert "at most 1" in body


async def test_an_http_client_that_does_not_read_its_answer_is_dropped_after_close_timeout(
    tmp_path: Path,
) -> None:
    """A large answer nobody reads holds its socket only close_timeout, then the slot is free."""
    (tmp_path / "big.js").write_bytes(b"x" * 32 * 1024 * 1024)  # more than loopback buffers hold
    async with hardened_server(
        camus_web_root=tmp_path,
        limits={"connections_per_address": 1},
        timeouts=Timeouts(close_timeout=scaled(0.5)),
    ) as server:
        _, writer = await asyncio.open_connection(
            "127.0.0.1", server.port, local_addr=("127.0.0.8", 0)
        )
        try:
            writer.write(b"GET /camus/static/big.js HTTP/1.1\r\nHost: x\r\n\r\n")
            await writer.drain()  # and never read the answer
            status, _ = await refused(server.url, "127.0.0.8")
            assert status == 429  # the unread answer still holds the address's one slot
            client = await open_when_admitted(server.url, "127.0.0.8")
            await client.assert_silent()
            await client.close()
        finally:
            writer.transport.abort()


# Floods --------------------------------------------------------------------------------


async def read_until_closed(ws: ClientConnection) -> int:
    """Read frames until the server closes the socket; how many came."""
    count = 0
    with contextlib.suppress(ConnectionClosed):
        async with asyncio.timeout(EVENT_TIMEOUT):
            while True:
                await ws.recv()
                count += 1
    return count


async def test_a_connection_flooding_past_its_rate_limit_is_closed_with_1008() -> None:
    """A client that keeps sending far over its budget is closed with 1008 and a reason."""
    limits = {"actions_per_second": 5, "action_burst": 5, "rate_limited_frames_before_close": 20}
    async with hardened_server(limits=limits) as server:
        client = await open_client(server.url, "127.0.0.7")
        try:
            for _ in range(200):
                await client.act("ping", t="x")
            received = await read_until_closed(client.ws)
        finally:
            await client.close()
        samples = await metrics(server.port)
    assert samples["lobbyhost_flood_closes_total"] == 1
    assert client.ws.close_code == 1008
    assert client.ws.close_reason == "far over the action rate limit"
    assert received <= 5 + 20  # pongs in budget, then one error per forgiven frame, then silence
