"""The Redis backend: lobbies, codes, tokens and dialect records shared by many nodes.

The registry's core is synchronous (one unit of work per input, sans-I/O), so
this backend speaks to Redis with redis-py's blocking client: one round trip
on a local socket per read, a few tens of microseconds. What must not block a
node (pub/sub delivery, heartbeats, reconnecting) lives in
:mod:`signalling_server.cluster` on redis-py's asyncio client.

Copy semantics, with a version check: every lobby is a hash ``{v, d}`` (a
version and the msgpack record). :meth:`RedisBackend.get_lobby` remembers the
version it read; :meth:`~RedisBackend.save_lobby` writes only if the record is
still at that version (a Lua compare-and-set) and raises :class:`LobbyConflict`
if another node changed it meanwhile, so the registry applies the input again
on fresh state. A save of an unchanged record costs no round trip (relays read
their lobby and change nothing). Codes are claimed atomically; removed lobbies
stay removed. Every failure to reach Redis is raised as
:class:`BackendUnavailable`.

With :meth:`RedisBackend.enable_cache` (a cluster node does it, and subscribes
to :attr:`~RedisBackend.changes_channel`), lobby records read are kept and
served without a round trip until a change is announced: every save and
removal publishes ``<lobby id> <version>`` on that channel from inside the
same script, so a node hears of a change before any event another node
forwards about it (one subscriber connection delivers in publish order). A
read-only input (a relay) may therefore see a lobby as it was a moment ago on
another node; a change made on a stale copy is refused by the version check
and applied again on a fresh one. :meth:`RedisBackend.peek_lobby` (relays)
decodes a cached record once and shares the result until the record changes,
so a relay between members costs no round trip, no decoding and no encoding.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Final, TypeVar

import msgspec
import redis
import redis.backoff
import redis.exceptions
import redis.retry

from ..ids import LobbyId
from ..lobby import Lobby, Role
from .base import BackendUnavailable, LobbyConflict, TokenGrant
from .records import decode_lobby, encode_lobby

T = TypeVar("T")

#: Every key this backend writes starts with this (several clusters may share one Redis).
DEFAULT_PREFIX: Final = "lobbyhost:"

# KEYS[1] lobby hash, KEYS[2] index set; ARGV[1] record, ARGV[2] lobby id.
_ADD_LOBBY: Final = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'v', 1, 'd', ARGV[1])
redis.call('SADD', KEYS[2], ARGV[2])
return 1
"""

# KEYS[1] lobby hash, KEYS[2] the changes channel; ARGV[1] the version read,
# ARGV[2] the new record, ARGV[3] the lobby id.
# 1: saved; 0: the lobby is gone (stays gone); -1: another writer came first.
_SAVE_LOBBY: Final = """
local version = redis.call('HGET', KEYS[1], 'v')
if not version then return 0 end
if version ~= ARGV[1] then return -1 end
local saved = tonumber(version) + 1
redis.call('HSET', KEYS[1], 'v', saved, 'd', ARGV[2])
redis.call('PUBLISH', KEYS[2], ARGV[3] .. ' ' .. saved)
return 1
"""

#: The version announced for a removed lobby: every cached copy goes.
REMOVED: Final = 0


class _Grant(msgspec.Struct, array_like=True):
    lobby_id: str
    role: str


_grant_encoder: Final = msgspec.msgpack.Encoder()
_grant_decoder: Final = msgspec.msgpack.Decoder(_Grant)


class RedisBackend:
    """Shared state in one Redis database, with copy semantics and version checks."""

    def __init__(self, url: str, *, prefix: str = DEFAULT_PREFIX, timeout: float = 1.0) -> None:
        self.url = url
        self.prefix = prefix
        self._redis: redis.Redis = redis.Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            # Once more at once (a pooled connection may be stale after a Redis
            # restart), never with backoff: a blocked node blocks all its clients.
            retry=redis.retry.Retry(redis.backoff.NoBackoff(), 1),
        )
        self._index = f"{prefix}lobbies"
        #: Where saves and removals are announced (``<lobby id> <version>``).
        self.changes_channel = f"{prefix}lobby-changes"
        #: Records read or written here, while nobody announced a change: (version, record).
        self._cache: dict[LobbyId, tuple[bytes, bytes]] | None = None
        #: Cached records decoded for readers: (the cached record object, its lobby).
        self._shared: dict[LobbyId, tuple[bytes, Lobby]] = {}
        self._add_lobby = self._redis.register_script(_ADD_LOBBY)
        self._save_lobby = self._redis.register_script(_SAVE_LOBBY)
        #: What each lobby read last looked like: (version, record). One unit of
        #: work runs at a time per node, so the last read is the one being saved.
        self._read: dict[LobbyId, tuple[bytes, bytes]] = {}

    @property
    def client(self) -> redis.Redis:
        """The blocking client (for the node's own keys: timers, node ids)."""
        return self._redis

    def close(self) -> None:
        self._redis.close()

    def enable_cache(self) -> None:
        """Serve lobby reads from memory; the caller passes on every announcement."""
        self._cache = {}

    def lobby_changed(self, announcement: bytes) -> None:
        """An announcement from :attr:`changes_channel`: forget copies older than it."""
        if self._cache is None:
            return
        text, _, number = announcement.decode().partition(" ")
        lobby_id = LobbyId(text)
        version = int(number) if number.isdigit() else REMOVED
        if version == REMOVED:
            self._read.pop(lobby_id, None)  # removed elsewhere: nothing of it is kept here
        cached = self._cache.get(lobby_id)
        if cached is not None and (version == REMOVED or int(cached[0]) < version):
            del self._cache[lobby_id]
            self._shared.pop(lobby_id, None)

    def forget_cached(self) -> None:
        """Forget every cached record (announcements may have been missed)."""
        if self._cache is not None:
            self._cache.clear()
        self._shared.clear()

    def _lobby_key(self, lobby_id: str) -> str:
        return f"{self.prefix}lobby:{lobby_id}"

    def _call(self, call: Callable[[], T]) -> T:
        try:
            return call()
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
            raise BackendUnavailable(f"cannot reach Redis at {self.url}: {exc}") from exc

    # Lobbies ---------------------------------------------------------------------

    def add_lobby(self, lobby: Lobby) -> bool:
        record = encode_lobby(lobby)
        keys = [self._lobby_key(lobby.lobby_id), self._index]
        added = self._call(lambda: self._add_lobby(keys=keys, args=[record, lobby.lobby_id]))
        if added:
            self._read[lobby.lobby_id] = (b"1", record)
            if self._cache is not None:
                self._cache[lobby.lobby_id] = (b"1", record)
        return bool(added)

    def get_lobby(self, lobby_id: LobbyId) -> Lobby | None:
        read = self._cached_or_fetched(lobby_id)
        if read is None:
            self._read.pop(lobby_id, None)
            return None
        self._read[lobby_id] = read
        return decode_lobby(read[1])

    def peek_lobby(self, lobby_id: LobbyId) -> Lobby | None:
        # What was read here for a save (``_read``) is left alone: a peek saves nothing.
        read = self._cached_or_fetched(lobby_id)
        if read is None:
            return None
        if self._cache is None:
            return decode_lobby(read[1])
        shared = self._shared.get(lobby_id)
        # The record object itself tells: a cached record is replaced, never changed.
        if shared is not None and shared[0] is read[1]:
            return shared[1]
        lobby = decode_lobby(read[1])
        self._shared[lobby_id] = (read[1], lobby)
        return lobby

    def _cached_or_fetched(self, lobby_id: LobbyId) -> tuple[bytes, bytes] | None:
        """The lobby's (version, record), from the cache or else from Redis (then cached)."""
        cache = self._cache
        if cache is not None:
            cached = cache.get(lobby_id)
            if cached is not None:
                return cached
        key = self._lobby_key(lobby_id)
        version, record = self._call(lambda: self._redis.hmget(key, "v", "d"))
        if version is None or record is None:
            return None
        read = (_bytes(version), _bytes(record))
        if cache is not None:
            cache[lobby_id] = read
        return read

    def save_lobby(self, lobby: Lobby) -> None:
        read = self._read.get(lobby.lobby_id)
        if read is None:
            return  # never read here, or read as gone: a removed lobby stays removed
        version, before = read
        record = encode_lobby(lobby)
        if record == before:
            return
        lobby_id = lobby.lobby_id
        keys = [self._lobby_key(lobby_id), self.changes_channel]
        saved = self._call(lambda: self._save_lobby(keys=keys, args=[version, record, lobby_id]))
        if saved == 1:
            read = self._read[lobby_id] = (str(int(version) + 1).encode(), record)
            if self._cache is not None:
                self._cache[lobby_id] = read
            return
        del self._read[lobby_id]
        if self._cache is not None:
            self._cache.pop(lobby_id, None)
        if saved == -1:
            raise LobbyConflict(f"lobby {lobby_id} changed on another node")

    def remove_lobby(self, lobby_id: LobbyId) -> None:
        self._read.pop(lobby_id, None)
        self._shared.pop(lobby_id, None)
        if self._cache is not None:
            self._cache.pop(lobby_id, None)
        pipe = self._redis.pipeline(transaction=True)
        pipe.delete(self._lobby_key(lobby_id))
        pipe.srem(self._index, lobby_id)
        pipe.publish(self.changes_channel, f"{lobby_id} {REMOVED}")
        self._call(pipe.execute)

    def lobby_count(self) -> int:
        return int(self._call(lambda: self._redis.scard(self._index)))

    def lobbies(self) -> Iterator[Lobby]:
        ids = sorted(
            _bytes(member).decode()
            for member in self._call(lambda: self._redis.smembers(self._index))
        )
        found: list[Lobby] = []
        for lobby_id in ids:
            lobby = self.get_lobby(LobbyId(lobby_id))
            if lobby is not None:
                found.append(lobby)
        return iter(found)

    # Tokens ----------------------------------------------------------------------

    def _token_key(self, token_id: str) -> str:
        return f"{self.prefix}token:{token_id}"

    def put_token(self, token_id: str, grant: TokenGrant) -> None:
        data = _grant_encoder.encode(_Grant(grant.lobby_id, grant.role.value))
        self._call(lambda: self._redis.set(self._token_key(token_id), data))

    def get_token(self, token_id: str) -> TokenGrant | None:
        data = self._call(lambda: self._redis.get(self._token_key(token_id)))
        if data is None:
            return None
        grant = _grant_decoder.decode(_bytes(data))
        return TokenGrant(LobbyId(grant.lobby_id), Role(grant.role))

    def drop_token(self, token_id: str) -> None:
        self._call(lambda: self._redis.delete(self._token_key(token_id)))

    # Records ---------------------------------------------------------------------

    def _records_key(self, kind: str) -> str:
        return f"{self.prefix}records:{kind}"

    def add_record(self, kind: str, key: str, data: bytes) -> bool:
        return bool(self._call(lambda: self._redis.hsetnx(self._records_key(kind), key, data)))

    def get_record(self, kind: str, key: str) -> bytes | None:
        data = self._call(lambda: self._redis.hget(self._records_key(kind), key))
        return None if data is None else _bytes(data)

    def put_record(self, kind: str, key: str, data: bytes) -> None:
        self._call(lambda: self._redis.hset(self._records_key(kind), key, data))

    def remove_record(self, kind: str, key: str) -> None:
        self._call(lambda: self._redis.hdel(self._records_key(kind), key))

    def record_keys(self, kind: str) -> list[str]:
        keys = self._call(lambda: self._redis.hkeys(self._records_key(kind)))
        return [_bytes(key).decode() for key in keys]


def _bytes(value: bytes | str) -> bytes:
    """A reply as bytes (the client is made without ``decode_responses``: replies are bytes)."""
    return value if isinstance(value, bytes) else value.encode()


__all__ = ["DEFAULT_PREFIX", "BackendUnavailable", "LobbyConflict", "RedisBackend"]
