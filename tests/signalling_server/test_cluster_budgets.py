"""Per-address budgets on a cluster: a client spread across nodes gets one budget, not one per node.

Open lobbies and join attempts are counted in Redis (signalling_server.cluster.budgets),
so a code guesser or a lobby hoarder that spreads its connections over the nodes
is stopped where one node alone would stop it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Iterator

import pytest
from websockets.exceptions import InvalidStatus

from signalling_server import Limits, SignallingServer, serve
from signalling_server.backend import BackendUnavailable
from signalling_server.backend.redis import RedisBackend
from signalling_server.cluster.budgets import RedisAddressBudgets
from signalling_server.ids import LobbyId
from tests.signalling_server.backends import stored_lobby
from tests.signalling_server.cluster_lab import cluster_config
from tests.signalling_server.wsclient import EVENT_TIMEOUT, WsClient, loopback_config
from tests.timeouts import scaled

JOINS = 5
LOBBIES = 2
LIMITS = Limits(
    password_hash_iterations=1, joins_per_address_per_minute=JOINS, lobbies_per_address=LOBBIES
)
GUESSER = "127.0.0.77"
#: Codes no lobby has (the alphabet has no I, L, O or U; these are simply unused).
UNUSED_CODES = [f"ZZZZZ{digit}" for digit in "23456789"]


@contextlib.asynccontextmanager
async def running(redis_url: str | None, count: int) -> AsyncIterator[list[SignallingServer]]:
    """``count`` nodes on ``redis_url`` (or one memory server), with the small budgets above."""
    if redis_url is None:
        configs = [dataclasses.replace(loopback_config(), limits=LIMITS)]
    else:
        configs = [dataclasses.replace(cluster_config(redis_url), limits=LIMITS)] * count
    async with contextlib.AsyncExitStack() as stack:
        yield [await stack.enter_async_context(serve(config)) for config in configs]


@contextlib.asynccontextmanager
async def clients(
    nodes: list[SignallingServer], address: str, count: int
) -> AsyncIterator[list[WsClient]]:
    """``count`` connections from ``address``, dealt to the nodes in turn; closed at the end."""
    opened: list[WsClient] = []
    try:
        for index in range(count):
            opened.append(await WsClient.open(nodes[index % len(nodes)].url, address))
        yield opened
    finally:
        for client in opened:
            await client.close()


async def guess(nodes: list[SignallingServer], attempts: int) -> list[str]:
    """Join attempts with unused codes from one address, spread over the nodes: the error codes."""
    codes: list[str] = []
    async with clients(nodes, GUESSER, len(nodes)) as guessers:
        for attempt in range(attempts):
            guesser = guessers[attempt % len(guessers)]
            await guesser.act("join_lobby", lobby_id=UNUSED_CODES[attempt], name="Mallory")
            codes.append((await guesser.expect("error"))["code"])
    return codes


@pytest.mark.asyncio
async def test_a_guesser_spread_across_nodes_gets_the_one_node_budget(redis_url: str) -> None:
    """Join attempts from one address over two nodes stop where one server alone stops them."""
    async with running(None, 1) as alone:
        on_one_server = await guess(alone, JOINS + 2)
    async with running(redis_url, 2) as nodes:
        on_two_nodes = await guess(nodes, JOINS + 2)
        assert on_two_nodes == on_one_server
        assert on_two_nodes == ["lobby_not_found"] * JOINS + ["rate_limited"] * 2
        # Someone else's budget is their own, on either node.
        for node in nodes:
            async with clients([node], "127.0.0.78", 1) as (other,):
                await other.act("join_lobby", lobby_id=UNUSED_CODES[0], name="Ann")
                await other.expect_error("lobby_not_found")


@pytest.mark.asyncio
async def test_resume_attempts_share_the_cluster_join_budget(redis_url: str) -> None:
    """Resume attempts with made-up tokens on two nodes spend the same budget as join attempts."""
    async with running(redis_url, 2) as nodes, clients(nodes, GUESSER, 2) as (first, second):
        for attempt in range(JOINS):
            client = (first, second)[attempt % 2]
            await client.act("resume", token=f"made-up-token-{attempt}")
            assert (await client.expect("error"))["code"] != "rate_limited"
        for client in (first, second):
            await client.act("join_lobby", lobby_id=UNUSED_CODES[0], name="Mallory")
            await client.expect_error("rate_limited", "join_lobby")


@pytest.mark.asyncio
async def test_open_lobbies_per_address_count_across_nodes(redis_url: str) -> None:
    """Lobbies hosted from one address on two nodes share one limit; closing one frees a place."""
    async with running(redis_url, 2) as nodes, clients(nodes, GUESSER, 4) as hosts:
        for host in hosts[:LOBBIES]:
            await host.act("start_lobby")
            await host.expect("lobby_started")
        for host in hosts[LOBBIES:]:
            await host.act("start_lobby")
            error = await host.expect_error("rate_limited", "start_lobby")
            assert f"at most {LOBBIES} open lobbies" in error["message"]
        await hosts[0].act("close_lobby")
        await hosts[0].expect("lobby_closed")
        await hosts[3].act("start_lobby")
        await hosts[3].expect("lobby_started")


@pytest.mark.asyncio
async def test_a_lobby_whose_host_drops_for_good_frees_its_place(redis_url: str) -> None:
    """A lobby closed on another node when its host's grace runs out frees the address's place."""
    config = dataclasses.replace(
        cluster_config(redis_url, host_grace=scaled(0.3)),
        limits=dataclasses.replace(LIMITS, lobbies_per_address=1),
    )
    async with serve(config) as first, serve(config) as second:
        async with clients([first], GUESSER, 1) as (host,):
            await host.act("start_lobby")
            started = await host.expect("lobby_started")
            host.id = started["connection_id"]
            async with clients([second], "127.0.0.78", 1) as (guest,):
                await guest.act("join_lobby", lobby_id=started["lobby_id"], name="Bob")
                await guest.expect("join_requested")
                request = await host.expect("request_to_join")
                await host.act("accept_request", connection_id=request["connection_id"])
                await guest.expect("request_accepted")
                await host.close()
                await guest.expect("host_disconnected")
                assert (await guest.expect("lobby_closed"))["reason"] == "host_left"
        async with clients([second], GUESSER, 1) as (again,):
            await again.act("start_lobby")
            await again.expect("lobby_started")


async def _rounds(*nodes: SignallingServer) -> None:
    """Every node published its connection counts, then read everyone else's, since this call."""
    syncs = [node.connection_counts for node in nodes]
    async with asyncio.timeout(EVENT_TIMEOUT):
        for _ in range(2):
            await asyncio.gather(*(sync.next_round() for sync in syncs if sync is not None))


async def _refused_status(node: SignallingServer, address: str) -> int:
    with pytest.raises(InvalidStatus) as refused:
        await WsClient.open(node.url, address)
    return refused.value.response.status_code


@pytest.mark.asyncio
async def test_connections_per_address_count_across_nodes(redis_url: str) -> None:
    """Connections from one address held on two nodes share one cap: past it, 429 on either node."""
    limits = dataclasses.replace(LIMITS, connections_per_address=4)
    config = dataclasses.replace(cluster_config(redis_url), limits=limits)
    async with serve(config) as first, serve(config) as second:
        async with clients([first, second], GUESSER, 4) as held:
            await _rounds(first, second)
            assert await _refused_status(first, GUESSER) == 429
            assert await _refused_status(second, GUESSER) == 429
            async with clients([second], "127.0.0.78", 1):
                pass  # another address is let in
            await held[0].close()  # held on the first node
            await _rounds(first, second)
            async with clients([second], GUESSER, 1):
                pass
        async with clients([second], GUESSER, 4):
            pass  # all closed: the whole cap again


@pytest.fixture
def backend(redis_url: str) -> Iterator[RedisBackend]:
    """A Redis backend on the test's emptied Redis."""
    backend = RedisBackend(redis_url)
    yield backend
    backend.close()


def test_a_counted_lobby_that_is_gone_no_longer_counts(backend: RedisBackend) -> None:
    """A lobby removed without being uncounted (its node died) stops holding its host's place."""
    budgets = RedisAddressBudgets(backend)
    assert backend.add_lobby(stored_lobby("AAAAA2", host_address=GUESSER, last_connection="gone.1"))
    assert budgets.lobby_opened(GUESSER, "AAAAA2", limit=1)
    assert budgets.lobby_opened(GUESSER, "AAAAA2", limit=1)  # counted once, however often
    assert not budgets.lobby_opened(GUESSER, "AAAAA3", limit=1)
    backend.remove_lobby(LobbyId("AAAAA2"))
    assert budgets.open_lobbies(GUESSER) == 0
    assert backend.add_lobby(stored_lobby("AAAAA3", host_address=GUESSER, last_connection="gone.1"))
    assert budgets.lobby_opened(GUESSER, "AAAAA3", limit=1)


def test_a_moved_lobby_counts_against_its_new_host(backend: RedisBackend) -> None:
    """After a host migration the lobby counts against the successor's address, not the old."""
    budgets = RedisAddressBudgets(backend)
    assert backend.add_lobby(stored_lobby("AAAAA4", host_address=GUESSER, last_connection="gone.1"))
    assert budgets.lobby_opened(GUESSER, "AAAAA4", limit=8)
    budgets.lobby_moved(GUESSER, "2001:db8::/64", "AAAAA4")
    assert budgets.open_lobbies(GUESSER) == 0
    assert budgets.open_lobbies("2001:db8::/64") == 1


def test_budgets_say_so_when_redis_is_away() -> None:
    """Counting with Redis out of reach raises BackendUnavailable (the input is refused whole)."""
    backend = RedisBackend("redis://127.0.0.1:1/0", timeout=0.2)
    budgets = RedisAddressBudgets(backend)
    with pytest.raises(BackendUnavailable):
        budgets.take_join(GUESSER, 0.0, limit=1, window=60.0)
    with pytest.raises(BackendUnavailable):
        budgets.open_lobbies(GUESSER)
    backend.close()
