"""Rate limiters, fed with times from the injected clock."""

from __future__ import annotations

from collections import deque


class TokenBucket:
    """Allows ``rate`` events per second on average and ``burst`` at once."""

    __slots__ = ("_burst", "_rate", "_stamp", "_tokens")

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self._rate = rate
        self._burst = burst
        self._tokens = burst
        self._stamp = now

    def take(self, now: float) -> bool:
        """Spend one token if there is one; ``False`` means over budget."""
        tokens = self._tokens + (now - self._stamp) * self._rate
        self._stamp = now
        if tokens > self._burst:
            tokens = self._burst
        if tokens < 1.0:
            self._tokens = tokens
            return False
        self._tokens = tokens - 1.0
        return True

    def wait_time(self, now: float) -> float:
        """Seconds until :meth:`take` would succeed (0 when it would now)."""
        tokens = min(self._burst, self._tokens + (now - self._stamp) * self._rate)
        return 0.0 if tokens >= 1.0 else (1.0 - tokens) / self._rate


class SlidingWindow:
    """At most ``limit`` events in any ``window`` seconds."""

    __slots__ = ("_events", "_limit", "_window")

    def __init__(self, limit: int, window: float) -> None:
        self._limit = limit
        self._window = window
        self._events: deque[float] = deque()

    def take(self, now: float) -> bool:
        """Record one event if the window has room; ``False`` means over budget."""
        events = self._events
        horizon = now - self._window
        while events and events[0] <= horizon:
            events.popleft()
        if len(events) >= self._limit:
            return False
        events.append(now)
        return True

    def idle(self, now: float) -> bool:
        """``True`` when nothing in the window is still counted (safe to forget)."""
        return not self._events or self._events[-1] <= now - self._window
