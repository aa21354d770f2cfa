"""The rate limiters on their own."""

from __future__ import annotations

from signalling_server.limits import SlidingWindow, TokenBucket


def test_token_bucket_says_how_long_until_the_next_token() -> None:
    """wait_time is 0 while tokens are left, then the time until one refills."""
    bucket = TokenBucket(10.0, 2, now=0.0)
    assert bucket.wait_time(0.0) == 0.0
    assert bucket.take(0.0)
    assert bucket.take(0.0)
    assert not bucket.take(0.0)
    assert abs(bucket.wait_time(0.0) - 0.1) < 1e-9
    assert bucket.take(0.1)


def test_sliding_window_forgets_after_the_window() -> None:
    """A full window refuses until its oldest event is a window old."""
    window = SlidingWindow(2, 60.0)
    assert window.take(0.0)
    assert window.take(1.0)
    assert not window.take(59.0)
    assert not window.idle(59.0)
    assert window.take(60.0)
    assert window.idle(200.0)
