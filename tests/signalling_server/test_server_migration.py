"""Host migration and snapshots end to end over real websockets.

A real server on 127.0.0.1 port 0 and real clients: a snapshot bigger than any
other frame, a host socket that closes and a grace timer that fires, a whole
lobby that drops and comes back. The rules themselves are proven without
sockets in test_registry_migration.py.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import pytest

from signalling_server import Limits, Timeouts, serve
from tests.signalling_server.cluster_lab import open_cluster
from tests.signalling_server.wsclient import LONG, SHORT, Lab, loopback_config, short_timeouts


@pytest.fixture(params=["memory", "redis"])
def server_options(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Extra ServerConfig fields per state backend: none for memory, a real Redis's URL."""
    if request.param == "redis":
        return {"redis": request.getfixturevalue("redis_url")}
    return {}


@contextlib.asynccontextmanager
async def migration_lab(options: dict[str, Any], timeouts: Timeouts) -> AsyncIterator[Lab]:
    config = loopback_config(limits=Limits(password_hash_iterations=1), timeouts=timeouts)
    async with serve(dataclasses.replace(config, **options)) as server:
        lab = Lab(server)
        try:
            yield lab
        finally:
            await lab.close_clients()


async def test_hand_over_carries_a_large_snapshot_to_the_new_host(
    server_options: dict[str, Any],
) -> None:
    """A 200 KiB snapshot saved by the host reaches the guest it hands over to, and no other guest."""
    timeouts = short_timeouts(host_grace=LONG)
    async with migration_lab(server_options, timeouts) as lab:
        host, started = await lab.host(migratable=True)
        code = started["lobby_id"]
        ann, _ = await lab.guest(host, code, "Ann")
        bob, _ = await lab.guest(host, code, "Bob")
        state = {"board": "x" * (200 * 1024)}
        await host.act("save_snapshot", ref="s", seq=1, data=state)
        assert (await host.expect("snapshot_saved", ref="s"))["seq"] == 1

        await host.act("hand_over", connection_id=bob.id)
        promoted = await bob.expect("promoted")
        assert promoted["snapshot"]["data"] == state
        assert promoted["guests"] == [{"connection_id": ann.id, "name": "Ann", "peer_id": 2}]
        migrated = await ann.expect("host_migrated")
        assert migrated["host_connection_id"] == bob.id
        await bob.expect("host_migrated")
        await host.expect("host_migrated")
        await ann.act("load_snapshot")
        await ann.expect_error("not_host", "load_snapshot")
        for client in (host, ann, bob):
            await client.assert_silent()


async def test_killing_the_host_leaves_the_game_going_with_a_guest_as_host(
    server_options: dict[str, Any],
) -> None:
    """When a migratable lobby's host socket dies, after its grace the first guest hosts it."""
    async with migration_lab(server_options, short_timeouts(host_grace=SHORT)) as lab:
        host, started = await lab.host(migratable=True)
        code = started["lobby_id"]
        ann, _ = await lab.guest(host, code, "Ann")
        bob, _ = await lab.guest(host, code, "Bob")
        await host.act("save_snapshot", seq=41, data={"score": [3, 1]})
        await host.expect("snapshot_saved")

        await host.close()
        await ann.expect("host_disconnected")
        await bob.expect("host_disconnected")
        promoted = await ann.expect("promoted")
        assert (promoted["reason"], promoted["snapshot"]["seq"]) == ("host_left", 41)
        await ann.expect("host_migrated")
        assert (await bob.expect("host_migrated"))["host_connection_id"] == ann.id
        await ann.act("save_snapshot", seq=42, data={"score": [3, 2]})
        await ann.expect("snapshot_saved")
        carl = await lab.joiner(ann, code, "Carl")
        await ann.act("accept_request", connection_id=carl.id)
        assert (await carl.expect("request_accepted"))["peer_id"] == 4
        await ann.expect("guest_accepted")
        assert lab.server.counters.lobbies == 1


async def test_a_lobby_everyone_dropped_out_of_is_resumed_by_the_first_back(
    server_options: dict[str, Any],
) -> None:
    """After every member's socket dropped, the first to resume hosts it with the last snapshot."""
    timeouts = short_timeouts(host_grace=SHORT, guest_grace=SHORT, migration_retention=LONG)
    async with migration_lab(server_options, timeouts) as lab:
        host, started = await lab.host(migratable=True)
        code = started["lobby_id"]
        ann, accepted = await lab.guest(host, code, "Ann")
        await host.act("save_snapshot", seq=9, data="saved game")
        await host.expect("snapshot_saved")
        await ann.close()
        await host.expect("guest_left")
        await host.close()

        back = await lab.client()
        await back.act("resume", token=accepted["guest_token"])
        # The first resume may land before the host's grace has run out: then it
        # is a guest waiting for a host, and the grace's end makes it the host.
        resumed = await back.expect("resumed")
        assert resumed["role"] == "guest"
        event = await back.next()
        if event["event"] == "host_disconnected":
            event = await back.next()
        assert event["event"] == "promoted", event
        assert event["content"]["snapshot"]["data"] == "saved game"
        await back.expect("host_migrated")


async def test_on_two_nodes_a_guest_on_the_other_node_takes_over_with_the_snapshot(
    redis_url: str,
) -> None:
    """Host on one node, guests on another: the host's socket dies, and after its grace a guest there hosts, snapshot in hand; a newcomer on the first node joins the new host."""
    async with open_cluster(redis_url, 2, host_grace=SHORT) as lab:
        host, started = await lab.host(0, migratable=True)
        code = started["lobby_id"]
        ann, _ = await lab.guest(1, host, code, "Ann")
        bob, _ = await lab.guest(1, host, code, "Bob")
        await host.act("save_snapshot", seq=7, data={"map": "q3dm17", "score": [5, 4]})
        await host.expect("snapshot_saved")

        assert lab.nodes[0].abort_connection(host.id)
        await ann.expect("host_disconnected")
        promoted = await ann.expect("promoted")
        await ann.expect("host_migrated")
        assert promoted["snapshot"]["data"] == {"map": "q3dm17", "score": [5, 4]}
        assert [guest["name"] for guest in promoted["guests"]] == ["Bob"]
        await bob.expect("host_disconnected")
        assert (await bob.expect("host_migrated"))["host_connection_id"] == ann.id
        carl = await lab.joiner(0, ann, code, "Carl")
        await ann.act("accept_request", connection_id=carl.id)
        await carl.expect("request_accepted")
        await ann.act("send_message", connection_id=carl.id, data="welcome")
        assert (await carl.expect("received_message"))["data"] == "welcome"
