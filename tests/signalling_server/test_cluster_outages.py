"""What a cluster does with the inputs that meet Redis away: nothing lost, nothing applied twice.

Redis here is stopped with ``SHUTDOWN SAVE`` and started again with its data,
as a Redis with persistence comes back; the nodes and clients are real.
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request

import pytest

from signalling_server import SignallingServer
from tests.signalling_server.cluster_lab import open_cluster
from tests.signalling_server.redis_server import RedisServer
from tests.signalling_server.wsclient import EVENT_TIMEOUT
from tests.timeouts import scaled

pytestmark = pytest.mark.asyncio


def _health(url: str) -> dict[str, object]:
    """/healthz of the node at websocket URL ``url`` (no proxy), whatever its status code."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url.replace("ws://", "http://") + "healthz", timeout=EVENT_TIMEOUT) as r:
            body = r.read()
    except urllib.error.HTTPError as exc:
        body = exc.read()
    health: dict[str, object] = json.loads(body)
    return health


async def _until_health(node: SignallingServer, status: str, connections: int) -> None:
    """Ask /healthz until the node says ``status`` and holds ``connections`` sockets."""
    async with asyncio.timeout(EVENT_TIMEOUT):
        while True:
            health = await asyncio.to_thread(_health, node.url)
            if health["status"] == status and health["connections"] == connections:
                return
            await asyncio.sleep(scaled(0.05))  # polling an HTTP endpoint: nothing to wait on


async def test_a_departure_during_a_redis_outage_is_applied_when_redis_is_back(
    redis_server: RedisServer, redis_url: str
) -> None:
    """A guest's socket closing while Redis is away: the host hears guest_left once Redis is back."""
    async with open_cluster(redis_url, 2, guest_grace=scaled(30)) as lab:
        host, started = await lab.host(0)
        bob, accepted = await lab.guest(1, host, started["lobby_id"], "Bob")
        cy, _ = await lab.guest(1, host, started["lobby_id"], "Cy")
        registry = lab.nodes[1].node.registry
        redis_server.stop_keeping_data()
        await _until_health(lab.nodes[1], "degraded", 2)
        await bob.close()
        await cy.close()
        await _until_health(lab.nodes[1], "degraded", 0)
        assert registry.waiting_departures == 2
        await host.assert_silent()
        redis_server.start()
        # In the order the sockets closed, each once.
        assert await host.expect("guest_left") == {
            "connection_id": bob.id,
            "reason": "disconnected",
        }
        assert await host.expect("guest_left") == {"connection_id": cy.id, "reason": "disconnected"}
        assert registry.waiting_departures == 0
        back = await lab.client(0)
        await back.act("resume", token=accepted["guest_token"])
        assert (await back.expect("resumed"))["role"] == "guest"
        assert (await host.expect("guest_resumed"))["old_connection_id"] == bob.id
        await host.assert_silent()


async def test_a_host_leaving_during_an_outage_starts_its_grace_when_redis_is_back(
    redis_server: RedisServer, redis_url: str
) -> None:
    """A host's socket closing while Redis is away: its guests hear host_disconnected afterwards."""
    async with open_cluster(redis_url, 2, host_grace=scaled(30)) as lab:
        host, started = await lab.host(1)
        bob, _ = await lab.guest(0, host, started["lobby_id"], "Bob")
        registry = lab.nodes[1].node.registry
        redis_server.stop_keeping_data()
        await _until_health(lab.nodes[1], "degraded", 1)
        await host.close()
        await _until_health(lab.nodes[1], "degraded", 0)
        assert registry.waiting_departures == 1
        redis_server.start()
        assert (await bob.expect("host_disconnected"))["lobby_id"] == started["lobby_id"]
        await bob.assert_silent()


async def test_a_node_killed_with_waiting_departures_is_reaped_once(
    redis_server: RedisServer, redis_url: str
) -> None:
    """A node dying with departures waiting: another node reaps them, and they never apply twice."""
    async with open_cluster(redis_url, 2, guest_grace=scaled(30)) as lab:
        host, started = await lab.host(0)
        bob, _ = await lab.guest(1, host, started["lobby_id"], "Bob")
        node = lab.nodes[1]
        link = node.cluster
        assert link is not None
        redis_server.stop_keeping_data()
        await _until_health(node, "degraded", 1)
        await bob.close()
        await _until_health(node, "degraded", 0)
        assert node.node.registry.waiting_departures == 1
        await link.stop_as_if_killed()
        redis_server.start()
        assert await host.expect("guest_left") == {
            "connection_id": bob.id,
            "reason": "disconnected",
        }
        reaped = sum(server.cluster.stats.nodes_reaped for server in lab.nodes if server.cluster)
        assert reaped == 1
        # Had the dead node come back and applied what waited, nobody hears it again.
        node.node.apply_waiting_departures()
        assert node.node.registry.waiting_departures == 0
        await host.assert_silent()
