"""The cluster's timers: one Redis sorted set of deadlines, each timer claimed by one node.

Grace periods and request expiry are planned by the node where they start and
fired by whichever node claims them first once due (a Lua script takes due
entries out of the set atomically), so a timer fires once even when the node
that planned it died. Deadlines are wall-clock seconds: every node of a
cluster reads the same clock (keep the machines' clocks in sync with NTP).
"""

from __future__ import annotations

import heapq
import secrets
from typing import Final

import msgspec
import redis

from ..backend import BackendUnavailable
from ..rules.base import SharedTimer

#: Most timers one claim takes; the rest wait for the next look.
CLAIM_BATCH: Final = 256

# KEYS[1] the sorted set; ARGV[1] now, ARGV[2] the batch size.
_CLAIM: Final = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
if #due > 0 then redis.call('ZREM', KEYS[1], unpack(due)) end
return due
"""


class _Entry(msgspec.Struct, array_like=True):
    when: float
    kind: str
    key: str
    sub: str
    #: Two nodes planning the same timer at the same instant keep two entries.
    nonce: str


_encoder: Final = msgspec.msgpack.Encoder()
_decoder: Final = msgspec.msgpack.Decoder(_Entry)


class RedisTimers:
    """:class:`~signalling_server.rules.base.SharedTimers` in a Redis sorted set."""

    def __init__(
        self,
        client: redis.Redis,
        key: str,
        *,
        poll_interval: float,
    ) -> None:
        self._client = client
        self._key = key
        self._poll_interval = poll_interval
        self._claim = client.register_script(_CLAIM)
        #: Deadlines this node planned, so it fires its own timers on time.
        self._planned: list[float] = []
        self._last_look = -float("inf")

    def entry(self, when: float, kind: str, key: str, sub: str) -> tuple[str, bytes]:
        return self._key, _encoder.encode(_Entry(when, kind, key, sub, secrets.token_hex(4)))

    def planned(self, when: float) -> None:
        heapq.heappush(self._planned, when)

    def next_deadline(self) -> float | None:
        # Other nodes' timers are looked for every poll_interval; our own on time.
        polled = self._last_look + self._poll_interval
        return min(self._planned[0], polled) if self._planned else polled

    def claim_due(self, now: float) -> list[SharedTimer]:
        self._last_look = now
        while self._planned and self._planned[0] <= now:
            heapq.heappop(self._planned)
        try:
            entries = self._claim(keys=[self._key], args=[repr(now), CLAIM_BATCH])
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
            raise BackendUnavailable(f"cannot claim timers: {exc}") from exc
        if len(entries) == CLAIM_BATCH:
            self._last_look = -float("inf")  # more are due: look again at once
        timers: list[SharedTimer] = []
        for data in entries:
            entry = _decoder.decode(data)
            timers.append((entry.when, entry.kind, entry.key, entry.sub))
        return timers
