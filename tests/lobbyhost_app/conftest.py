"""Client-side tests: ICE restricted to 127.0.0.1 in every test (the allow-list is process-wide)."""

from __future__ import annotations

from .loopback import loopback_ice

__all__ = ["loopback_ice"]
