"""A redis-py connection that breaks when a test says: Redis going away, or a reply lost.

A test double of the connection only: the backend, its scripts and the
redis-server behind it are the real ones.
"""

from __future__ import annotations

from typing import Any

import redis


class Outage:
    """When the connection to Redis breaks: after ``allowed`` commands, or one reply lost."""

    def __init__(self) -> None:
        self.sent = 0
        #: Commands that get through; every later one fails (Redis went away). ``None``: all.
        self.allowed: int | None = None
        #: The next command of this name has its reply lost, though Redis runs it.
        self.reply_lost: bytes | None = None
        self._losing = False


def breaking_connection(outage: Outage) -> type[redis.Connection]:
    """A redis-py connection that breaks as ``outage`` says."""

    class BreakingConnection(redis.Connection):
        def send_packed_command(self, command: Any, check_health: bool = True) -> None:
            if outage.allowed is not None and outage.sent >= outage.allowed:
                self.disconnect()  # type: ignore[no-untyped-call]
                raise redis.exceptions.ConnectionError("Redis went away (injected)")
            outage.sent += 1
            chunks = command if isinstance(command, list) else [command]
            if outage.reply_lost is not None and any(outage.reply_lost in c for c in chunks):
                outage.reply_lost = None
                outage._losing = True
            super().send_packed_command(command, check_health)  # type: ignore[no-untyped-call]

        def read_response(self, *args: Any, **kwargs: Any) -> Any:
            response = super().read_response(*args, **kwargs)
            if outage._losing:
                outage._losing = False
                self.disconnect()  # type: ignore[no-untyped-call]
                raise redis.exceptions.ConnectionError("reply lost (injected)")
            return response

    return BreakingConnection
