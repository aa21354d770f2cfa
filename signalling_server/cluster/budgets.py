"""The cluster's per-address budgets in Redis: every node spends from the same ones.

Join and resume attempts are a sorted set per address key (one entry per
attempt, scored with its time), trimmed to the window and checked against the
limit in one Lua script, so attempts made on different nodes at the same
moment cannot both take the last one. Open lobbies are a set of lobby ids per
address key: adding is idempotent (an input applied again after a conflict
counts its lobby once), and every count first drops ids whose lobby record is
gone, so a lobby removed by a node that died before it uncounted it does not
hold its host's budget for ever.
"""

from __future__ import annotations

import secrets
from typing import Final

import redis
import redis.exceptions

from ..backend import BackendUnavailable
from ..backend.redis import RedisBackend

# KEYS[1] the address's attempts; ARGV[1] now, ARGV[2] window (s), ARGV[3] limit, ARGV[4] member.
_TAKE_JOIN: Final = """
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('PEXPIRE', KEYS[1], math.ceil(window * 1000))
return 1
"""

# Drops from the set KEYS[1] every lobby id whose record (ARGV[1] .. id) is gone.
_PRUNE: Final = """
for _, lobby_id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if redis.call('EXISTS', ARGV[1] .. lobby_id) == 0 then redis.call('SREM', KEYS[1], lobby_id) end
end
"""

# KEYS[1] the address's lobbies; ARGV[1] the lobby key prefix. The count, once pruned.
_OPEN_LOBBIES: Final = _PRUNE + "return redis.call('SCARD', KEYS[1])\n"

# KEYS[1] the address's lobbies; ARGV[1] the lobby key prefix, ARGV[2] the lobby id, ARGV[3] limit.
_LOBBY_OPENED: Final = (
    _PRUNE
    + """
if redis.call('SISMEMBER', KEYS[1], ARGV[2]) == 1 then return 1 end
if redis.call('SCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('SADD', KEYS[1], ARGV[2])
return 1
"""
)

_REDIS_ERRORS: Final = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


class RedisAddressBudgets:
    """:class:`~signalling_server.address_budgets.SharedAddressBudgets` in the backend's Redis."""

    def __init__(self, backend: RedisBackend) -> None:
        self._client: redis.Redis = backend.client
        self._prefix = f"{backend.prefix}budget:"
        # Where RedisBackend keeps a lobby's record (``<prefix>lobby:<id>``).
        self._lobby_prefix = f"{backend.prefix}lobby:"
        self._take_join = self._client.register_script(_TAKE_JOIN)
        self._open_lobbies = self._client.register_script(_OPEN_LOBBIES)
        self._lobby_opened = self._client.register_script(_LOBBY_OPENED)

    def _joins_key(self, key: str) -> str:
        return f"{self._prefix}joins:{key}"

    def _lobbies_key(self, key: str) -> str:
        return f"{self._prefix}lobbies:{key}"

    def take_join(self, key: str, now: float, *, limit: int, window: float) -> bool:
        # Two attempts in the same microsecond are still two entries.
        member = f"{now!r}:{secrets.token_hex(4)}"
        args: list[str | int] = [repr(now), repr(window), limit, member]
        try:
            return bool(self._take_join(keys=[self._joins_key(key)], args=args))
        except _REDIS_ERRORS as exc:
            raise BackendUnavailable(f"cannot count a join attempt: {exc}") from exc

    def open_lobbies(self, key: str) -> int:
        try:
            return int(self._open_lobbies(keys=[self._lobbies_key(key)], args=[self._lobby_prefix]))
        except _REDIS_ERRORS as exc:
            raise BackendUnavailable(f"cannot count open lobbies: {exc}") from exc

    def lobby_opened(self, key: str, lobby_id: str, *, limit: int) -> bool:
        args: list[str | int] = [self._lobby_prefix, lobby_id, limit]
        try:
            return bool(self._lobby_opened(keys=[self._lobbies_key(key)], args=args))
        except _REDIS_ERRORS as exc:
            raise BackendUnavailable(f"cannot count an open lobby: {exc}") from exc

    def lobby_closed(self, key: str, lobby_id: str) -> None:
        try:
            self._client.srem(self._lobbies_key(key), lobby_id)
        except _REDIS_ERRORS as exc:
            raise BackendUnavailable(f"cannot uncount a lobby: {exc}") from exc

    def lobby_moved(self, before: str, after: str, lobby_id: str) -> None:
        if before == after:
            return
        pipe = self._client.pipeline(transaction=True)
        pipe.srem(self._lobbies_key(before), lobby_id)
        pipe.sadd(self._lobbies_key(after), lobby_id)
        try:
            pipe.execute()
        except _REDIS_ERRORS as exc:
            raise BackendUnavailable(f"cannot move a lobby's count: {exc}") from exc


__all__ = ["RedisAddressBudgets"]
