"""Reaping a dead cluster node beside many idle lobbies: the per-node index against a scan.

Run: ``.venv/bin/python -m tests.benchmarks.reap [--idle 10000] [--runs 7]``
(needs ``redis-server``; one is started on a free loopback port and stopped).

``--idle`` lobbies are hosted on a living node and 10 on a node that died. Each
run times :meth:`LobbyRegistry.reap` (it reads the lobbies Redis lists for the
dead node) and, as the baseline in the same run, the scan the registry did
before the index: list every lobby, then read each one as a unit of work to
look for the dead node's members. Medians and their ratio are printed.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time

from signalling_server.backend import Changes
from signalling_server.backend.redis import RedisBackend
from signalling_server.clock import ManualClock
from signalling_server.config import Limits
from signalling_server.ids import ConnectionId, LobbyId
from signalling_server.lobby import Lobby, Member
from signalling_server.registry import LobbyRegistry
from tests.signalling_server.redis_server import running_redis

DEAD_LOBBIES = 10
BATCH = 500
_codes = itertools.count()


def _lobby(host: str) -> Lobby:
    code = f"{next(_codes):06d}"
    member = Member(
        name="Host",
        peer_id=1,
        token_id=f"t{code}",
        token_secret="s",
        connection_id=ConnectionId(host),
        last_connection_id=ConnectionId(host),
    )
    return Lobby(
        lobby_id=LobbyId(code),
        name="L",
        host=member,
        host_address="127.0.0.1",
        max_guests=8,
        password=None,
    )


def _fill(backend: RedisBackend, count: int, node: str) -> None:
    lobbies = [_lobby(f"{node}.{n}") for n in range(count)]
    for start in range(0, count, BATCH):
        backend.commit(Changes(added=lobbies[start : start + BATCH]))


def _scan(registry: LobbyRegistry, node_id: str) -> int:
    """The reap before the index: read every lobby, one unit of work each; lobbies hit."""
    mark = f"{node_id}."
    hit = 0
    for lobby_id in [lobby.lobby_id for lobby in registry.backend.lobbies()]:

        def look(lobby_id: LobbyId = lobby_id) -> bool:
            lobby = registry.tx.lobby(lobby_id)
            return lobby is not None and any(m.startswith(mark) for m in lobby.live_members())

        found, _ = registry.run(look)
        hit += found
    return hit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=7)
    options = parser.parse_args()
    with running_redis() as server:
        backend = RedisBackend(server.url)
        registry = LobbyRegistry(
            limits=Limits(password_hash_iterations=1), clock=ManualClock(), backend=backend
        )
        _fill(backend, options.idle, "alive")
        indexed: list[float] = []
        scanned: list[float] = []
        for _ in range(options.runs):
            _fill(backend, DEAD_LOBBIES, "dead")
            began = time.perf_counter()
            assert _scan(registry, "dead") == DEAD_LOBBIES
            scanned.append(time.perf_counter() - began)
            began = time.perf_counter()
            registry.reap("dead")
            indexed.append(time.perf_counter() - began)
            assert backend.lobbies_held_by("dead") == []
        backend.close()
    scan, index = statistics.median(scanned), statistics.median(indexed)
    print(f"reap beside {options.idle} idle lobbies, {DEAD_LOBBIES} on the dead node,")
    print(f"median of {options.runs} runs:")
    print(f"  scan every lobby (before): {scan * 1000:9.1f} ms")
    print(f"  per-node index (now):      {index * 1000:9.1f} ms")
    print(f"  ratio scan / index:        {scan / index:9.0f}x")


if __name__ == "__main__":
    main()
