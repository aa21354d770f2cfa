"""Relays between nodes of a cluster: cached membership kept coherent, batches, outages, hops.

Nodes check a relay's membership on their cached copy of the lobby, which a
save's announcement (on the same Redis connection as forwarded events, so
before them) invalidates: whoever hears of a kick, a leave or a close can no
longer relay, or be relayed to, on any node.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import re
import urllib.request
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis

from signalling_server import Limits, serve
from signalling_server.cluster.link import PUBLISH_BATCH
from tests.signalling_server.cluster_lab import ClusterLab, cluster_config
from tests.signalling_server.redis_server import RedisServer
from tests.signalling_server.wsclient import CANDIDATE, EVENT_TIMEOUT, WsClient

pytestmark = pytest.mark.asyncio

#: Enough that bursts of a few thousand actions are never rate limited.
UNLIMITED = Limits(password_hash_iterations=1, actions_per_second=1e6, action_burst=1_000_000)


@contextlib.asynccontextmanager
async def unlimited_cluster(redis_url: str, count: int) -> AsyncIterator[ClusterLab]:
    """``count`` nodes on one Redis whose clients may send as fast as they like."""
    config = dataclasses.replace(cluster_config(redis_url), limits=UNLIMITED)
    async with contextlib.AsyncExitStack() as stack:
        nodes = [await stack.enter_async_context(serve(config)) for _ in range(count)]
        lab = ClusterLab(nodes)
        try:
            yield lab
        finally:
            await lab.close_clients()


async def _warm(host: WsClient, guest: WsClient) -> None:
    """A relay each way, so both nodes hold the lobby in their caches."""
    await guest.act("send_message", connection_id=host.id, data="hi")
    assert (await host.expect("received_message"))["data"] == "hi"
    await host.act("send_message", connection_id=guest.id, data="hello")
    assert (await guest.expect("received_message"))["data"] == "hello"


def _command_calls(redis_url: str) -> dict[str, int]:
    """Calls per Redis command so far (``INFO commandstats``)."""
    client = redis.Redis.from_url(redis_url)
    try:
        stats = client.info("commandstats")
    finally:
        client.close()
    return {name.removeprefix("cmdstat_"): int(value["calls"]) for name, value in stats.items()}


async def test_a_guest_kicked_on_another_node_cannot_relay_right_after(redis_url: str) -> None:
    """Host on A kicks a guest on B whose node cached the lobby: B refuses its next relay."""
    async with unlimited_cluster(redis_url, 2) as lab:
        host, started = await lab.host(0)
        bob, _ = await lab.guest(1, host, started["lobby_id"], "Bob")
        await _warm(host, bob)
        await host.act("kick_guest", connection_id=bob.id, message="bye")
        assert (await bob.expect("kicked"))["message"] == "bye"
        await bob.act("send_message", connection_id=host.id, data="still here?", ref="k")
        error = await bob.expect_error("not_in_lobby", "send_message")
        assert error["ref"] == "k"
        await host.expect("guest_left")
        await host.act("send_message", connection_id=bob.id, data="gone?")
        await host.expect_error("unknown_connection", "send_message")
        await host.assert_silent()


async def test_a_guest_who_left_on_another_node_is_not_relayed_to(redis_url: str) -> None:
    """A guest leaves on B; the host on A, told so, cannot relay to it any more."""
    async with unlimited_cluster(redis_url, 2) as lab:
        host, started = await lab.host(0)
        bob, _ = await lab.guest(1, host, started["lobby_id"], "Bob")
        await _warm(host, bob)
        await bob.act("leave_lobby")
        await bob.expect("left_lobby")
        assert await host.expect("guest_left") == {"connection_id": bob.id, "reason": "left"}
        await host.act("send_message", connection_id=bob.id, data="wait", ref="w")
        error = await host.expect_error("unknown_connection", "send_message")
        assert error["ref"] == "w"
        await bob.assert_silent()


async def test_guests_on_other_nodes_cannot_relay_once_the_lobby_closed(redis_url: str) -> None:
    """The host on A closes; guests on B and C, told so, are refused their next relays."""
    async with unlimited_cluster(redis_url, 3) as lab:
        host, started = await lab.host(0)
        code = started["lobby_id"]
        bob, _ = await lab.guest(1, host, code, "Bob")
        cy, _ = await lab.guest(2, host, code, "Cy")
        await _warm(host, bob)
        await _warm(host, cy)
        await host.act("close_lobby")
        await host.expect("lobby_closed")
        for guest in (bob, cy):
            assert (await guest.expect("lobby_closed"))["reason"] == "closed_by_host"
            await guest.act("send_ice_candidate", connection_id=host.id, candidate=CANDIDATE)
            await guest.expect_error("not_in_lobby", "send_ice_candidate")
        await host.assert_silent()


async def test_relays_cost_no_redis_reads_or_writes(redis_url: str) -> None:
    """Relays between members of a known lobby read nothing from Redis: only publishes."""
    async with unlimited_cluster(redis_url, 2) as lab:
        host, started = await lab.host(0)
        bob, _ = await lab.guest(1, host, started["lobby_id"], "Bob")
        await _warm(host, bob)
        before = await asyncio.to_thread(_command_calls, redis_url)
        for number in range(200):
            await bob.act("send_message", connection_id=host.id, data=number)
            await host.act("send_message", connection_id=bob.id, data=number)
        for client in (host, bob):
            got = [(await client.expect("received_message"))["data"] for _ in range(200)]
            assert got == list(range(200))
        after = await asyncio.to_thread(_command_calls, redis_url)
        for reads_or_writes in ("hmget", "hget", "get", "hset", "set"):
            assert after.get(reads_or_writes, 0) == before.get(reads_or_writes, 0), reads_or_writes
        assert 0 < after["publish"] - before.get("publish", 0) <= 400


async def test_bursts_to_two_nodes_keep_their_order_across_batches(redis_url: str) -> None:
    """A host's burst to guests on two other nodes spans many batches; each guest gets all, in order."""
    count = 3 * PUBLISH_BATCH
    async with unlimited_cluster(redis_url, 3) as lab:
        host, started = await lab.host(0)
        code = started["lobby_id"]
        bob, _ = await lab.guest(1, host, code, "Bob")
        cy, _ = await lab.guest(2, host, code, "Cy")
        frames = [
            json.dumps(
                {"action": "send_message", "content": {"connection_id": "*", "data": number}}
            )
            for number in range(count)
        ]
        for frame in frames:  # no answer awaited: the server reads many per tick
            await host.ws.send(frame)
        for guest in (bob, cy):
            got = [(await guest.expect("received_message"))["data"] for _ in range(count)]
            assert got == list(range(count))
        await host.assert_silent()


async def _next_of(
    clients: dict[str, WsClient], waiting: dict[str, asyncio.Task[Any]]
) -> tuple[str, dict[str, Any]]:
    """The next event from whichever client sends one first (with the tests' event timeout)."""
    for name, client in clients.items():
        if name not in waiting:
            waiting[name] = asyncio.create_task(client.ws.recv())
    done, _ = await asyncio.wait(
        waiting.values(), timeout=EVENT_TIMEOUT, return_when=asyncio.FIRST_COMPLETED
    )
    assert done, f"no event within {EVENT_TIMEOUT} s"
    task = done.pop()
    name = next(name for name, waited in waiting.items() if waited is task)
    del waiting[name]
    return name, json.loads(task.result())


async def test_redis_lost_mid_burst_every_relay_arrives_or_its_sender_hears(
    redis_server: RedisServer, redis_url: str
) -> None:
    """Redis killed during a burst between nodes: each relay reaches the guest or errors back."""
    count = 600
    async with unlimited_cluster(redis_url, 2) as lab:
        host, started = await lab.host(0)
        bob, _ = await lab.guest(1, host, started["lobby_id"], "Bob")
        await _warm(host, bob)
        frames = [
            json.dumps(
                {
                    "action": "send_message",
                    "content": {"connection_id": bob.id, "data": number},
                    "ref": str(number),
                }
            )
            for number in range(count)
        ]
        for frame in frames[: count // 3]:
            await host.ws.send(frame)
        # Some have crossed (the burst is under way) when Redis goes.
        delivered = [(await bob.expect("received_message"))["data"] for _ in range(10)]
        redis_server.stop()
        for frame in frames[count // 3 :]:
            await host.ws.send(frame)
        refused: set[int] = set()
        waiting: dict[str, asyncio.Task[Any]] = {}
        try:
            while len(set(delivered) | refused) < count:
                name, message = await _next_of({"host": host, "bob": bob}, waiting)
                content = message["content"]
                if name == "bob":
                    assert message["event"] == "received_message", message
                    delivered.append(content["data"])
                else:
                    assert message["event"] == "error", message
                    assert content["code"] in {"server_unavailable", "unknown_connection"}
                    refused.add(int(message["ref"]))
        finally:
            for task in waiting.values():
                task.cancel()
            await asyncio.gather(*waiting.values(), return_exceptions=True)
        assert delivered == sorted(set(delivered))  # in order, none twice
        assert refused, "Redis went away mid-burst, yet every relay arrived"
        redis_server.start()


def _metrics(url: str) -> str:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url.replace("ws://", "http://") + "metrics", timeout=EVENT_TIMEOUT) as reply:
        body: bytes = reply.read()
    return body.decode()


async def test_metrics_show_the_hop_between_nodes(redis_url: str) -> None:
    """/metrics on the receiving node counts each forwarded relay in lobbyhost_cluster_hop_seconds."""
    async with unlimited_cluster(redis_url, 2) as lab:
        host, started = await lab.host(0)
        bob, _ = await lab.guest(1, host, started["lobby_id"], "Bob")
        text = await asyncio.to_thread(_metrics, lab.nodes[0].url)
        already = _hop_count(text)
        for number in range(50):
            await bob.act("send_message", connection_id=host.id, data=number)
        for number in range(50):
            assert (await host.expect("received_message"))["data"] == number
        text = await asyncio.to_thread(_metrics, lab.nodes[0].url)
        assert _hop_count(text) - already == 50
        inf = re.search(r'^lobbyhost_cluster_hop_seconds_bucket\{le="\+Inf"\} (\S+)$', text, re.M)
        assert inf is not None and float(inf.group(1)) == _hop_count(text)
        assert re.search(r"^lobbyhost_cluster_hop_seconds_sum \S+$", text, re.M)


def _hop_count(text: str) -> float:
    found = re.search(r"^lobbyhost_cluster_hop_seconds_count (\S+)$", text, re.M)
    assert found is not None, "no lobbyhost_cluster_hop_seconds on /metrics"
    return float(found.group(1))
