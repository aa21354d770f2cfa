"""Collect events from a listener and wait for the one a test needs."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Generic, TypeVar

from tests.timeouts import scaled

E = TypeVar("E")


class Recorder(Generic[E]):
    """A listener that keeps every event and lets tests await a matching one."""

    def __init__(self) -> None:
        self.events: list[E] = []
        self._waiters: list[tuple[Callable[[E], bool], asyncio.Future[E]]] = []

    def __call__(self, event: E) -> None:
        self.events.append(event)
        for predicate, future in list(self._waiters):
            if not future.done() and predicate(event):
                future.set_result(event)

    @property
    def mark(self) -> int:
        """A point in the history, for ``wait_for(..., after=mark)``."""
        return len(self.events)

    async def wait_for(
        self, predicate: Callable[[E], bool], within: float = 10.0, *, after: int = 0
    ) -> E:
        """The first event since ``after`` (seen or to come) that matches, within ``within`` seconds (scaled)."""
        for event in self.events[after:]:
            if predicate(event):
                return event
        future: asyncio.Future[E] = asyncio.get_running_loop().create_future()
        self._waiters.append((predicate, future))
        try:
            async with asyncio.timeout(scaled(within)):
                return await future
        except TimeoutError:
            raise AssertionError(
                f"no matching event in {scaled(within)} s: {self.events}"
            ) from None
        finally:
            self._waiters.remove((predicate, future))
