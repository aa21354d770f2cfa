"""The Redis backend: lobbies, codes, tokens and dialect records shared by many nodes.

The registry's core is synchronous (one unit of work per input, sans-I/O), so
this backend speaks to Redis with redis-py's blocking client: one round trip
on a local socket per read, a few tens of microseconds. What must not block a
node (pub/sub delivery, heartbeats, reconnecting) lives in
:mod:`signalling_server.cluster` on redis-py's asyncio client.

Copy semantics, with a version check: every lobby is a hash ``{v, d, n}`` (a
version, the msgpack record and the nodes holding its live members).
:meth:`RedisBackend.get_lobby` remembers the version it read;
:meth:`~RedisBackend.commit` writes everything one input changed (lobbies, new
codes, tokens, records, the per-node lobby index) in one Lua script, which
checks every version and claim before writing anything, so it stores all or
nothing, and raises :class:`LobbyConflict` if another node changed a lobby or
took a code meanwhile, so the registry applies the input again on fresh state.
A commit whose reply is lost and that redis-py sends again is applied once.
A lobby whose record did not change costs no round trip (relays read their
lobby and change nothing). Removed lobbies stay removed. Every failure to
reach Redis, and every command it refuses, is raised as
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

import secrets
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Final, TypeVar

import msgspec
import redis
import redis.backoff
import redis.exceptions
import redis.retry

from ..ids import LobbyId
from ..lobby import Lobby, Role
from .base import BackendUnavailable, Changes, LobbyConflict, TokenGrant, nodes_of
from .records import decode_lobby, encode_lobby
from .redis_commit import CHANGED, COMMIT_SCRIPT, COMMITTED

T = TypeVar("T")

#: Every key this backend writes starts with this (several clusters may share one Redis).
DEFAULT_PREFIX: Final = "lobbyhost:"

#: Dialect records whose last read is remembered for the compare-and-set; the oldest go
#: first (the unit of work being applied read its records last).
RECORD_READS_KEPT: Final = 4096

#: The version announced for a removed lobby: every cached copy goes.
REMOVED: Final = 0


class _Grant(msgspec.Struct, array_like=True):
    lobby_id: str
    role: str


_grant_encoder: Final = msgspec.msgpack.Encoder()
_grant_decoder: Final = msgspec.msgpack.Decoder(_Grant)


class RedisBackend:
    """Shared state in one Redis database, with copy semantics and version checks."""

    def __init__(
        self,
        url: str,
        *,
        prefix: str = DEFAULT_PREFIX,
        timeout: float = 1.0,
        connection_class: type[redis.Connection] | None = None,
    ) -> None:
        # connection_class: how to reach Redis when the URL's scheme does not say (tests
        # inject a connection that breaks).
        self.url = url
        self.prefix = prefix
        options = {} if connection_class is None else {"connection_class": connection_class}
        self._redis: redis.Redis = redis.Redis.from_url(
            url,
            **options,
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
        #: Sets of lobby ids by node (``<prefix><node id>``): lobbies with a live member there.
        self._node_index = f"{prefix}node-lobbies:"
        self._commit = self._redis.register_script(COMMIT_SCRIPT)
        #: Cached records decoded for readers: (the cached record object, its lobby).
        self._shared: dict[LobbyId, tuple[bytes, Lobby]] = {}
        #: What each lobby read last looked like: (version, record). One unit of
        #: work runs at a time per node, so the last read is the one being saved.
        self._read: dict[LobbyId, tuple[bytes, bytes]] = {}
        #: Each dialect record as last read or written here (``None``: read as absent).
        self._record_reads: OrderedDict[tuple[str, str], bytes | None] = OrderedDict()

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
        except redis.exceptions.ResponseError as exc:
            # Out of memory, a read-only replica after a failover, a failing disk: the
            # command was refused whole, and the input that needed it is too.
            raise BackendUnavailable(f"Redis at {self.url} refused: {exc}") from exc

    # Commits ---------------------------------------------------------------------

    def commit(self, changes: Changes) -> None:
        refused = self._commit_changes(changes)
        if refused is not None:
            code, subject = refused
            what = "changed on another node" if code == CHANGED else "is gone"
            raise LobbyConflict(f"{subject} {what}")

    def _commit_changes(self, changes: Changes) -> tuple[int, str] | None:
        """Write ``changes`` in one script; ``(code, id)`` if refused (nothing written)."""
        read = self._read
        saved: list[tuple[LobbyId, bytes, bytes]] = []
        for lobby in changes.saved:
            before = read.get(lobby.lobby_id)
            if before is None:
                continue  # never read here, or read as gone: a removed lobby stays removed
            record = encode_lobby(lobby)
            if record != before[1]:  # unchanged (a relay): no round trip
                saved.append((lobby.lobby_id, before[0], record))
        if not (
            saved
            or changes.added
            or changes.removed
            or changes.tokens
            or changes.dropped_tokens
            or changes.claimed_records
            or changes.records
            or changes.timers
        ):
            return None
        marker = f"{self.prefix}commit:{secrets.token_hex(8)}"
        keys: list[str] = [self._index, self.changes_channel, marker]
        items: list[bytes | str] = []
        added = [(lobby, encode_lobby(lobby)) for lobby in changes.added]
        for lobby, record in added:
            keys.append(self._lobby_key(lobby.lobby_id))
            items += [lobby.lobby_id, record, " ".join(nodes_of(lobby))]
        by_id = {lobby.lobby_id: lobby for lobby in changes.saved}
        for lobby_id, version, record in saved:
            keys.append(self._lobby_key(lobby_id))
            items += [lobby_id, version, record, " ".join(nodes_of(by_id[lobby_id]))]
        for lobby_id in changes.removed:
            keys.append(self._lobby_key(lobby_id))
            # Removing a lobby read here is checked too: a close on a stale copy would
            # leave out whoever joined meanwhile on another node.
            removed_read = read.get(lobby_id)
            items += [lobby_id, b"" if removed_read is None else removed_read[0]]
        for token_id, grant in changes.tokens:
            keys.append(self._token_key(token_id))
            items.append(_grant_encoder.encode(_Grant(grant.lobby_id, grant.role.value)))
        keys += [self._token_key(token_id) for token_id in changes.dropped_tokens]
        for kind, key, data in changes.claimed_records:
            keys.append(self._records_key(kind))
            items += [key, data]
        record_reads = self._record_reads
        for kind, key, written in changes.records:
            keys.append(self._records_key(kind))
            items += [key, "0", ""] if written is None else [key, "1", written]
            # A record read here is stored only if no other node changed it since.
            if (kind, key) not in record_reads:
                items += ["n", ""]
            else:
                as_read = record_reads[kind, key]
                items += ["a", ""] if as_read is None else ["e", as_read]
        for set_key, when, entry in changes.timers:
            keys.append(set_key)
            items += [repr(when), entry]
        counts = [
            len(added),
            len(saved),
            len(changes.removed),
            len(changes.tokens),
            len(changes.dropped_tokens),
            len(changes.claimed_records),
            len(changes.records),
            len(changes.timers),
        ]
        args = [self._node_index, *counts, *items]
        code, subject = self._call(lambda: self._commit(keys=keys, args=args))
        cache = self._cache
        if code == COMMITTED:
            for lobby, record in added:
                read[lobby.lobby_id] = (b"1", record)
                if cache is not None:
                    cache[lobby.lobby_id] = (b"1", record)
            for lobby_id, version, record in saved:
                now = read[lobby_id] = (str(int(version) + 1).encode(), record)
                if cache is not None:
                    cache[lobby_id] = now
            for lobby_id in changes.removed:
                read.pop(lobby_id, None)
                self._shared.pop(lobby_id, None)
                if cache is not None:
                    cache.pop(lobby_id, None)
            for kind, key, data in changes.claimed_records:
                self._remember_read(kind, key, bytes(data))
            for kind, key, written in changes.records:
                if written is None:
                    record_reads.pop((kind, key), None)
                else:
                    self._remember_read(kind, key, bytes(written))
            return None
        for kind, key, _ in changes.records:
            record_reads.pop((kind, key), None)
        # Refused: forget what was read of the lobbies involved, the retry reads afresh.
        for lobby_id in [*(lobby_id for lobby_id, _, _ in saved), *changes.removed]:
            read.pop(lobby_id, None)
            if cache is not None:
                cache.pop(lobby_id, None)
        return int(code), _bytes(subject).decode()

    def lobbies_held_by(self, node_id: str) -> list[LobbyId]:
        members = self._call(lambda: self._redis.smembers(self._node_index + node_id))
        return sorted(LobbyId(_bytes(member).decode()) for member in members)

    # Lobbies ---------------------------------------------------------------------

    def add_lobby(self, lobby: Lobby) -> bool:
        try:
            self.commit(Changes(added=[lobby]))
        except LobbyConflict:
            return False
        return True

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
        refused = self._commit_changes(Changes(saved=[lobby]))
        if refused is not None and refused[0] == CHANGED:
            raise LobbyConflict(f"lobby {lobby.lobby_id} changed on another node")
        # Gone meanwhile: a removed lobby stays removed.

    def remove_lobby(self, lobby_id: LobbyId) -> None:
        self._read.pop(lobby_id, None)  # unchecked: whatever it became, it goes
        self._shared.pop(lobby_id, None)
        self.commit(Changes(removed=[lobby_id]))

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

    # A record read and then stored is stored only if no other node changed it
    # meanwhile (compare-and-set on its bytes), else LobbyConflict: the input is
    # applied again on fresh copies, as for lobbies. Two nodes changing one Camus
    # room at once would otherwise lose one of the changes.

    def _remember_read(self, kind: str, key: str, data: bytes | None) -> None:
        reads = self._record_reads
        reads[kind, key] = data
        reads.move_to_end((kind, key))
        if len(reads) > RECORD_READS_KEPT:
            reads.popitem(last=False)

    def add_record(self, kind: str, key: str, data: bytes) -> bool:
        added = bool(self._call(lambda: self._redis.hsetnx(self._records_key(kind), key, data)))
        if added:
            self._remember_read(kind, key, bytes(data))
        return added

    def get_record(self, kind: str, key: str) -> bytes | None:
        data = self._call(lambda: self._redis.hget(self._records_key(kind), key))
        record = None if data is None else _bytes(data)
        self._remember_read(kind, key, record)
        return record

    def put_record(self, kind: str, key: str, data: bytes) -> None:
        self.commit(Changes(records=[(kind, key, data)]))

    def remove_record(self, kind: str, key: str) -> None:
        self._record_reads.pop((kind, key), None)
        self._call(lambda: self._redis.hdel(self._records_key(kind), key))

    def record_keys(self, kind: str) -> list[str]:
        keys = self._call(lambda: self._redis.hkeys(self._records_key(kind)))
        return [_bytes(key).decode() for key in keys]


def _bytes(value: bytes | str) -> bytes:
    """A reply as bytes (the client is made without ``decode_responses``: replies are bytes)."""
    return value if isinstance(value, bytes) else value.encode()


__all__ = ["DEFAULT_PREFIX", "BackendUnavailable", "LobbyConflict", "RedisBackend"]
