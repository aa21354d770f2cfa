"""Where the client reads the time and waits on it; injected so tests need not wait.

Pacing, reconnect backoff, the resume window and handshake deadlines all go
through a :class:`Clock`. The real one is :data:`SYSTEM_CLOCK`; a test hands in
a fake whose ``sleep`` returns when the test moves time on.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from typing import Final, Protocol, TypeVar

T = TypeVar("T")


class Clock(Protocol):
    """A monotonic clock and a way to wait on it."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Return once ``seconds`` have passed on this clock."""
        ...


class SystemClock:
    """This machine's monotonic clock and asyncio's sleep."""

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


SYSTEM_CLOCK: Final = SystemClock()


async def within(clock: Clock, seconds: float, awaitable: Awaitable[T]) -> T:
    """``awaitable``'s result, or :class:`TimeoutError` once ``seconds`` pass on ``clock``.

    ``asyncio.timeout`` for any clock: the work is cancelled when time runs out.
    """
    work = asyncio.ensure_future(awaitable)
    deadline = asyncio.ensure_future(clock.sleep(seconds))
    try:
        await asyncio.wait((work, deadline), return_when=asyncio.FIRST_COMPLETED)
    finally:
        deadline.cancel()
        if not work.done():
            work.cancel()
        # Both end before we do (asyncio.wait raises only if this task is cancelled).
        await asyncio.wait((work, deadline))
    if work.cancelled():
        if not deadline.cancelled():
            deadline.result()  # a clock that failed says so
        raise TimeoutError
    return work.result()
