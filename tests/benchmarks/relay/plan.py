"""The run's settings and plan: which worker runs which lobbies."""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import BenchmarkError
from .flow import Compression

PHASES = ("paced", "saturation", "generators", "memory", "storm")


@dataclass
class Settings:
    """What the command line asked for, with the --quick defaults filled in."""

    lobbies: int
    rate: float
    paced_seconds: float
    reps: int
    warmup_seconds: float
    saturation_seconds: float
    saturation_reps: int
    window: int
    idle_connections: int
    workers: int
    compression: Compression
    phases: tuple[str, ...]
    quiet_budget: float
    retries: int
    storm_clients: int = 2000
    storm_reps: int = 3


@dataclass
class Plan:
    """Which worker runs which lobbies (guest counts per lobby, per worker)."""

    guest_counts: list[list[int]] = field(default_factory=list)

    @property
    def lobbies(self) -> int:
        return sum(len(counts) for counts in self.guest_counts)

    @property
    def peers(self) -> int:
        return sum(len(counts) + sum(counts) for counts in self.guest_counts)

    @property
    def pairs(self) -> int:
        return sum(sum(counts) for counts in self.guest_counts)


def make_plan(settings: Settings) -> Plan:
    """Deal the lobbies (1, 2 or 3 guests each) round robin over the workers."""
    plan = Plan([[] for _ in range(settings.workers)])
    for lobby in range(settings.lobbies):
        plan.guest_counts[lobby % settings.workers].append(1 + lobby % 3)
    # Every client of a worker has its own source address while there are fewer
    # than 254 per worker; past that, a few share one (still far below the limits).
    if max(len(c) + sum(c) for c in plan.guest_counts) > 4 * 254:
        raise BenchmarkError("too many clients per source address; add --workers")
    return plan
