"""What a cluster-wide per-address budget costs a node: one Redis script against one round trip.

Against a real ``redis-server`` on loopback (started and stopped here), per
call: a plain ``GET`` (the baseline: one round trip on a local socket), a join
attempt counted in Redis, a lobby counted and uncounted, and the address's
open-lobby count; and, for scale, the one-process path (a sliding window in
memory). Medians of 7 runs in the same process.

Run: ``.venv/bin/python -m tests.benchmarks.cluster_budgets``
"""

from __future__ import annotations

import itertools
import statistics
import time
from collections.abc import Callable

from signalling_server.backend.redis import RedisBackend
from signalling_server.cluster.budgets import RedisAddressBudgets
from signalling_server.limits import SlidingWindow
from tests.signalling_server.redis_server import running_redis

CALLS = 2_000
RUNS = 7


def median_microseconds(call: Callable[[], object]) -> float:
    runs = []
    for _ in range(RUNS):
        start = time.perf_counter()
        for _ in range(CALLS):
            call()
        runs.append((time.perf_counter() - start) / CALLS * 1e6)
    return statistics.median(runs)


def main() -> None:
    with running_redis() as server:
        backend = RedisBackend(server.url)
        budgets = RedisAddressBudgets(backend)
        client = backend.client
        addresses = itertools.count()
        lobbies = itertools.count()
        window = SlidingWindow(10**9, 60.0)

        def get() -> object:
            return client.get("lobbyhost:nothing")

        def join() -> object:
            # A fresh address each time, as many clients do: the set never grows long.
            return budgets.take_join(
                f"198.51.100.{next(addresses)}", time.time(), limit=30, window=60
            )

        def open_and_close() -> None:
            lobby_id = f"L{next(lobbies)}"
            budgets.lobby_opened("192.0.2.7", lobby_id, limit=8)
            budgets.lobby_closed("192.0.2.7", lobby_id)

        def count() -> object:
            return budgets.open_lobbies("192.0.2.7")

        def in_memory() -> object:
            return window.take(time.monotonic())

        costs = {
            "GET (baseline)": median_microseconds(get),
            "join attempt (take_join)": median_microseconds(join),
            "lobby opened + closed": median_microseconds(open_and_close),
            "open lobbies (count)": median_microseconds(count),
            "one process (SlidingWindow.take)": median_microseconds(in_memory),
        }
        backend.close()
    baseline = costs["GET (baseline)"]
    print("| call | median µs | vs GET |")
    print("|---|---|---|")
    for name, cost in costs.items():
        print(f"| {name} | {cost:.1f} | {cost / baseline:.2f}x |")


if __name__ == "__main__":
    main()
