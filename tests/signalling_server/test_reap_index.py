"""Reaping a dead node reads only the lobbies it held members of, however many others exist.

Registries on one real Redis, each naming its connections after its node as a
cluster node does; the reaping registry's Redis commands are counted by its
connection.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator

import pytest

from signalling_server.backend.redis import RedisBackend
from signalling_server.clock import ManualClock
from signalling_server.config import Limits
from signalling_server.effects import Send
from signalling_server.ids import ConnectionId, LobbyId
from signalling_server.protocol import encode_event
from signalling_server.registry import LobbyRegistry
from tests.signalling_server.redis_faults import Outage, breaking_connection

_ids = itertools.count()


def _node(url: str, node_id: str, outage: Outage | None = None) -> LobbyRegistry:
    """A registry whose connection ids name ``node_id``, as a cluster node's do."""
    connection_class = breaking_connection(outage) if outage is not None else None
    backend = RedisBackend(url, connection_class=connection_class)
    registry = LobbyRegistry(
        limits=Limits(password_hash_iterations=1), clock=ManualClock(), backend=backend
    )
    registry.new_connection_id = lambda: ConnectionId(f"{node_id}.{next(_ids)}")
    return registry


def _start(registry: LobbyRegistry, address: str) -> LobbyId:
    host = registry.connect(address)
    frame = json.dumps({"action": "start_lobby", "content": {}})
    (started,) = [e for e in registry.handle(host, frame) if isinstance(e, Send)]
    return LobbyId(json.loads(encode_event(started.event))["content"]["lobby_id"])


@pytest.fixture
def registries(redis_url: str) -> Iterator[list[LobbyRegistry]]:
    made: list[LobbyRegistry] = []
    yield made
    for registry in made:
        assert isinstance(registry.backend, RedisBackend)
        registry.backend.close()


def _reap_commands(url: str, registries: list[LobbyRegistry], idle: int) -> int:
    """Commands the reaper sends to reap a node that hosted 3 lobbies, beside ``idle`` others."""
    alive, dead = _node(url, "alive"), _node(url, "dead")
    outage = Outage()
    reaper = _node(url, "reaper", outage)
    registries += [alive, dead, reaper]
    for n in range(idle):
        _start(alive, f"127.0.{1 + n // 8}.{1 + n % 8}")
    held = [_start(dead, f"127.0.100.{n}") for n in range(1, 4)]
    before = outage.sent
    reaper.reap("dead")
    sent = outage.sent - before
    for lobby_id in held:
        lobby = reaper.backend.get_lobby(lobby_id)
        assert lobby is not None and lobby.host.connection_id is None, "its host is away now"
    assert reaper.backend.lobbies_held_by("dead") == []
    assert len(reaper.backend.lobbies_held_by("alive")) == idle
    return sent


def test_reaping_reads_only_the_dead_nodes_lobbies(
    redis_url: str, registries: list[LobbyRegistry]
) -> None:
    """Reaping a node costs as many Redis commands beside 60 idle lobbies as beside none."""
    alone = _reap_commands(redis_url, registries, idle=0)
    client = registries[0].backend
    assert isinstance(client, RedisBackend)
    client.client.flushall()
    crowded = _reap_commands(redis_url, registries, idle=60)
    assert crowded == alone
