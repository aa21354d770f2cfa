"""The client's own pacing: a burst goes at once, then actions are spaced by the rate."""

from __future__ import annotations

import pytest

from lobbyhost_app.net.pacing import ActionPacer


class ManualClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_goes_at_once_then_each_action_waits_its_turn() -> None:
    """With rate 10/s and burst 3: three go now; the next ones wait 0.1 s more each, in order."""
    clock = ManualClock()
    pacer = ActionPacer(10.0, 3, clock=clock)
    assert [pacer.reserve() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert [round(pacer.reserve(), 6) for _ in range(3)] == [0.1, 0.2, 0.3]


def test_time_earns_actions_back_up_to_the_burst() -> None:
    """Idle time refills the budget, never beyond the burst."""
    clock = ManualClock()
    pacer = ActionPacer(10.0, 2, clock=clock)
    pacer.reserve()
    pacer.reserve()
    clock.now += 0.1
    assert pacer.reserve() == pytest.approx(0.0, abs=1e-9)  # one earned back
    clock.now += 60.0
    assert [pacer.reserve() for _ in range(2)] == [0.0, 0.0]
    assert pacer.reserve() == pytest.approx(0.1)  # the burst is the cap


def test_a_budget_that_allows_nothing_is_refused() -> None:
    """A rate or burst that could never let an action through is a ValueError."""
    with pytest.raises(ValueError, match="positive rate"):
        ActionPacer(0.0, 10)
    with pytest.raises(ValueError, match="burst"):
        ActionPacer(10.0, 0)
