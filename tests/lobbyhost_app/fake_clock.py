"""Fake clocks for the client's clock seam (lobbyhost_app.net.clock): time moves without waiting.

* :class:`SteppingClock`: every ``sleep`` moves time forward by its length at
  once; for pacing and backoff, where waiting is all that happens.
* :class:`HeldClock`: ``sleep`` returns only when the test moves time past it;
  for deadlines raced against real work.

Both can share a server's :class:`~signalling_server.clock.ManualClock`, so a
client and the server it talks to agree on the time.
"""

from __future__ import annotations

import asyncio

from signalling_server.clock import ManualClock
from tests.timeouts import scaled


class SteppingClock:
    """Each ``sleep(s)`` moves the clock ``s`` forward at once; what was slept is kept."""

    def __init__(self, clock: ManualClock | None = None) -> None:
        self.clock = clock or ManualClock()
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.clock.monotonic()

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.clock.advance(max(0.0, seconds))
        await asyncio.sleep(0)  # still a turn of the loop for everyone else


class HeldClock:
    """``sleep`` waits until :meth:`advance` moves the clock past its end."""

    def __init__(self) -> None:
        self.clock = ManualClock()
        self._sleepers: list[tuple[float, asyncio.Future[None]]] = []
        self._sleeper_added = asyncio.Event()

    def monotonic(self) -> float:
        return self.clock.monotonic()

    async def sleep(self, seconds: float) -> None:
        wake = asyncio.get_running_loop().create_future()
        entry = (self.clock.monotonic() + seconds, wake)
        self._sleepers.append(entry)
        self._sleeper_added.set()
        try:
            await wake
        finally:
            self._sleepers.remove(entry)

    @property
    def sleeping(self) -> list[float]:
        """When each sleep not yet woken ends, on this clock."""
        return [end for end, wake in self._sleepers if not wake.done()]

    async def wait_for_sleeper(self, within: float = 10.0) -> None:
        """Until something sleeps on this clock (a deadline has been set)."""
        async with asyncio.timeout(scaled(within)):
            while not self._sleepers:
                self._sleeper_added.clear()
                await self._sleeper_added.wait()

    def advance(self, seconds: float) -> None:
        """Move the clock forward; sleepers whose end has come wake up."""
        self.clock.advance(seconds)
        now = self.clock.monotonic()
        for end, wake in self._sleepers:
            if end <= now and not wake.done():
                wake.set_result(None)
