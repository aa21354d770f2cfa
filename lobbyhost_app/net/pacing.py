"""Client-side pacing: stay inside the server's per-connection action budget."""

from __future__ import annotations

import time
from collections.abc import Callable


class ActionPacer:
    """A token bucket that says how long the next action must wait instead of refusing it.

    ``rate`` actions a second are earned, up to ``burst`` saved; each action
    spends one. When none is saved, :meth:`reserve` spends one on credit and
    returns how long to wait, so actions reserved in turn go out in turn.
    """

    def __init__(
        self, rate: float, burst: int, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("the budget needs a positive rate and a burst of at least 1")
        self._rate = rate
        self._burst = float(burst)
        self._clock = clock
        self._tokens = float(burst)
        self._updated = clock()

    def reserve(self) -> float:
        """Spend one action; the seconds to wait before sending it (0 when it may go now)."""
        now = self._clock()
        self._tokens = min(self._burst, self._tokens + (now - self._updated) * self._rate)
        self._updated = now
        self._tokens -= 1.0
        return 0.0 if self._tokens >= 0 else -self._tokens / self._rate
