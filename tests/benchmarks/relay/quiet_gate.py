"""Waiting for a quiet machine, and measuring again when other processes got in the way."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from .process_resources import cpu_snapshot, other_load_pct
from .progress import log
from .worker_pool import Workers

#: Foreign CPU use (% of one core) above which the report says the run is unreliable.
OTHER_LOAD_WARNING_PCT = 10.0


class QuietGate:
    """Waits, within a total time budget, for other processes to leave the CPUs alone."""

    def __init__(self, workers: Workers, budget: float) -> None:
        self.workers = workers
        self.budget = budget

    def sample(self, seconds: float) -> float:
        """The other load over the next ``seconds``, % of one core."""
        before, started = cpu_snapshot(self.workers.own_pids()), time.monotonic()
        time.sleep(seconds)
        after = cpu_snapshot(self.workers.own_pids())
        return other_load_pct(before, after, time.monotonic() - started)

    def wait(self) -> None:
        """Wait while the other load is high and the budget lasts."""
        while True:
            load = self.sample(0.25)
            self.budget -= 0.25
            if load <= OTHER_LOAD_WARNING_PCT or self.budget <= 0:
                return
            pause = min(1.0, self.budget)
            time.sleep(pause)
            self.budget -= pause

    def measure(
        self, retries: int, label: str, run: Callable[[], dict[str, Any]]
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Run a measurement; repeat it (up to ``retries`` times) if the machine was busy.

        Returns the kept result and the discarded ones.
        """
        discarded: list[dict[str, Any]] = []
        for attempt in range(retries + 1):
            self.wait()
            result = run()
            if result["other_load_pct"] <= OTHER_LOAD_WARNING_PCT or attempt == retries:
                return result, discarded
            discarded.append(result)
            log(f"  {label}: other load {result['other_load_pct']:.0f}% of a core; measuring again")
        raise AssertionError("unreachable")
