"""Which accepted TCP connections are served: a cap per address, and one below the open-file limit.

Every connection holds a file descriptor. One address may hold at most
``limits.connections_per_address`` of them (counted by its budget key, so an
IPv6 /64 counts as one address; on a cluster, with what the other nodes hold
of it); past that it is answered ``429``. The whole
process stops short of its open-file limit (``RLIMIT_NOFILE``) by
:data:`RESERVED_DESCRIPTORS`, kept for the log, the listening sockets and the
files routes serve; past that a client is answered ``503`` at once instead of
waiting in the kernel's backlog for an ``accept()`` that cannot succeed.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Mapping
from http import HTTPStatus
from typing import Final

from ..address_keys import budget_key
from ..http_routes import HttpReply, error_reply

#: Descriptors kept free below the open-file limit for everything but client sockets.
RESERVED_DESCRIPTORS: Final = 64
#: What a refused client is told to wait before it tries again, in seconds.
RETRY_AFTER_S: Final = 5


def connection_ceiling() -> int | None:
    """How many connections this process can hold with descriptors to spare; ``None``: no limit."""
    if sys.platform == "win32":
        return None  # no RLIMIT_NOFILE; Windows sockets are not bounded by it
    import resource

    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return None
    if soft > 2 * RESERVED_DESCRIPTORS:
        return soft - RESERVED_DESCRIPTORS
    return max(1, soft // 2)


class ConnectionAdmission:
    """Counts open connections per budget key and says which are over the caps."""

    __slots__ = ("_open", "ceiling", "elsewhere", "per_address", "refused")

    def __init__(self, *, per_address: int, ceiling: int | None) -> None:
        self.per_address = per_address
        #: Connections the process serves at most (``None``: no limit).
        self.ceiling = ceiling
        self._open: dict[str, int] = {}
        #: Connections other nodes of a cluster hold, by key (kept current by the cluster).
        self.elsewhere: Mapping[str, int] = {}
        #: Connections refused, by reason (``per_address``, ``server_full``); /metrics reads it.
        self.refused: Counter[str] = Counter()

    def server_full(self, open_connections: int) -> HttpReply | None:
        """The ``503`` for a connection past the process's ceiling, or ``None``."""
        if self.ceiling is None or open_connections <= self.ceiling:
            return None
        self.refused["server_full"] += 1
        return error_reply(
            HTTPStatus.SERVICE_UNAVAILABLE,
            "The server is at its connection limit; try again in a few seconds.",
            ("Retry-After", str(RETRY_AFTER_S)),
        )

    def admit(self, address: str) -> tuple[str | None, HttpReply | None]:
        """Count a connection from ``address``: ``(key to release later, None)`` or the ``429``."""
        key = budget_key(address)
        count = self._open.get(key, 0)
        if count + self.elsewhere.get(key, 0) >= self.per_address:
            self.refused["per_address"] += 1
            return None, error_reply(
                HTTPStatus.TOO_MANY_REQUESTS,
                f"Too many open connections from your address (at most {self.per_address});"
                " close one and try again.",
                ("Retry-After", str(RETRY_AFTER_S)),
            )
        self._open[key] = count + 1
        return key, None

    def release(self, key: str) -> None:
        """A connection counted under ``key`` is gone."""
        count = self._open.get(key, 0) - 1
        if count > 0:
            self._open[key] = count
        else:
            self._open.pop(key, None)

    def held(self, at_least: int) -> dict[str, int]:
        """Keys holding ``at_least`` open connections here, with their counts."""
        return {key: count for key, count in self._open.items() if count >= at_least}

    def open_from(self, address: str) -> int:
        """Connections counted for ``address``'s key."""
        return self._open.get(budget_key(address), 0)


__all__ = ["RESERVED_DESCRIPTORS", "ConnectionAdmission", "connection_ceiling"]
