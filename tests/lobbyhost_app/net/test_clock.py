"""within(): a deadline on any clock, here a held fake one that moves only when told."""

from __future__ import annotations

import asyncio

import pytest

from lobbyhost_app.net.clock import SYSTEM_CLOCK, within
from tests.timeouts import scaled

from ..fake_clock import HeldClock


async def test_work_that_ends_first_gives_its_result_and_the_deadline_goes() -> None:
    """The work's result comes back; nothing is left sleeping on the clock."""
    clock = HeldClock()
    done: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    racing = asyncio.create_task(within(clock, 5.0, done))
    await clock.wait_for_sleeper()
    done.set_result("opened")
    async with asyncio.timeout(scaled(5)):
        assert await racing == "opened"
    assert not clock.sleeping


async def test_when_the_deadline_passes_the_work_is_cancelled_and_timeout_raised() -> None:
    """Moving the clock to the deadline cancels the work and raises TimeoutError."""
    clock = HeldClock()
    never: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    racing = asyncio.create_task(within(clock, 5.0, never))
    await clock.wait_for_sleeper()
    clock.advance(4.5)
    assert clock.sleeping == [clock.monotonic() + 0.5]  # not yet
    clock.advance(0.5)
    async with asyncio.timeout(scaled(5)):
        with pytest.raises(TimeoutError):
            await racing
    assert never.cancelled()


async def test_the_works_own_error_comes_through() -> None:
    """An error inside the work is raised as it is, not as a timeout."""

    async def fails() -> None:
        raise ConnectionError("peer gone")

    with pytest.raises(ConnectionError, match="peer gone"):
        await within(SYSTEM_CLOCK, scaled(5), fails())


async def test_cancelling_the_wait_cancels_the_work_and_the_deadline() -> None:
    """Cancelled from outside, within() leaves neither the work nor a sleeper behind."""
    clock = HeldClock()
    never: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    racing = asyncio.create_task(within(clock, 5.0, never))
    await clock.wait_for_sleeper()
    racing.cancel()
    async with asyncio.timeout(scaled(5)):
        with pytest.raises(asyncio.CancelledError):
            await racing
    assert never.cancelled()
    assert not clock.sleeping
