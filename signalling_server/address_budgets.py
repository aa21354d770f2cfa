"""Per-address budgets that several registries share (a cluster's), as the core sees them.

One process keeps its per-address usage in memory (``AddressUsage`` in
:mod:`signalling_server.rules.base`). Behind a load balancer or on several
nodes, a client spread across nodes would get a fresh budget on each, so a
cluster hands its registries a :class:`SharedAddressBudgets`: the budgets that
stop abuse (open lobbies, join and resume attempts) are then counted once for
the whole cluster. Keys are :func:`~signalling_server.address_keys.budget_key`
values; times come from the registry's clock (a cluster's is wall-clock
seconds, the same on every node).
"""

from __future__ import annotations

from typing import Protocol


class SharedAddressBudgets(Protocol):
    """Budgets per address key that every node of a cluster spends from."""

    def take_join(self, key: str, now: float, *, limit: int, window: float) -> bool:
        """Spend one join or resume attempt; ``False``: ``limit`` were made in ``window`` s."""
        ...

    def open_lobbies(self, key: str) -> int:
        """How many lobbies opened from ``key`` are open (on any node)."""
        ...

    def lobby_opened(self, key: str, lobby_id: str, *, limit: int) -> bool:
        """Count ``lobby_id`` against ``key`` unless ``limit`` already count; ``False``: over."""
        ...

    def lobby_closed(self, key: str, lobby_id: str) -> None:
        """``lobby_id`` no longer counts against ``key``."""
        ...

    def lobby_moved(self, before: str, after: str, lobby_id: str) -> None:
        """``lobby_id`` counts against ``after`` now, not ``before`` (its host moved; no limit)."""
        ...


__all__ = ["SharedAddressBudgets"]
