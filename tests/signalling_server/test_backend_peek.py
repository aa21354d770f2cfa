"""Read-only lobby copies for relays (``peek_lobby``): as fresh as a read, never in a save's way.

A cluster node serves peeks from its cache of lobby records, kept coherent by
the announcements every save publishes; these tests feed it the announcements
a real Redis publishes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import redis

from signalling_server.backend import LobbyConflict, MemoryBackend, StateBackend
from signalling_server.backend.redis import RedisBackend
from signalling_server.ids import ConnectionId, LobbyId
from signalling_server.lobby import Lobby, Member, Role
from tests.timeouts import scaled

CODE = LobbyId("PEEKAB")
BOB = ConnectionId("n2.bob")

BACKENDS: dict[str, Callable[[], StateBackend]] = {
    "memory": MemoryBackend,
    "memory-copies": lambda: MemoryBackend(copies=True),
}


@pytest.fixture(params=[*sorted(BACKENDS), "redis", "redis-cached"])
def backend(request: pytest.FixtureRequest) -> Iterator[StateBackend]:
    if not request.param.startswith("redis"):
        yield BACKENDS[request.param]()
        return
    redis_backend = RedisBackend(request.getfixturevalue("redis_url"))
    if request.param == "redis-cached":
        redis_backend.enable_cache()
    yield redis_backend
    redis_backend.close()


def _member(name: str, connection_id: str) -> Member:
    return Member(
        name=name,
        peer_id=len(name),
        token_id=f"t-{name}",
        token_secret="s",
        connection_id=ConnectionId(connection_id),
        last_connection_id=ConnectionId(connection_id),
    )


def _lobby_with_bob() -> Lobby:
    lobby = Lobby(
        lobby_id=CODE,
        name="L",
        host=_member("Host", "n1.host"),
        host_address="127.0.0.1",
        max_guests=8,
        password=None,
    )
    lobby.guests[BOB] = _member("Bob", BOB)
    return lobby


def _next_announcement(pubsub: redis.client.PubSub) -> bytes:
    """The next message on the changes channel (the subscription's confirmation comes first)."""
    for _ in range(2):
        message = pubsub.get_message(timeout=scaled(5))
        if message is not None:
            data = message["data"]
            assert isinstance(data, bytes)
            return data
    raise AssertionError("no announcement came")


def test_a_peek_sees_what_was_saved(backend: StateBackend) -> None:
    """A relay's read-only copy shows the members as last saved, and a removed lobby as gone."""
    assert backend.peek_lobby(CODE) is None
    backend.add_lobby(_lobby_with_bob())
    peeked = backend.peek_lobby(CODE)
    assert peeked is not None and peeked.role_of(BOB) is Role.GUEST
    lobby = backend.get_lobby(CODE)
    assert lobby is not None
    del lobby.guests[BOB]
    backend.save_lobby(lobby)
    again = backend.peek_lobby(CODE)
    assert again is not None and again.role_of(BOB) is Role.IDLE
    backend.remove_lobby(CODE)
    assert backend.peek_lobby(CODE) is None


def test_a_peek_does_not_hide_another_nodes_change_from_a_save(redis_url: str) -> None:
    """Read, another node saves, peek, save: the save is still refused as a conflict."""
    mine, theirs = RedisBackend(redis_url), RedisBackend(redis_url)
    mine.enable_cache()
    try:
        mine.add_lobby(_lobby_with_bob())
        copy = mine.get_lobby(CODE)
        other = theirs.get_lobby(CODE)
        assert copy is not None and other is not None
        other.name = "theirs"
        theirs.save_lobby(other)
        mine.forget_cached()  # as after a missed announcement: the peek reads Redis afresh
        peeked = mine.peek_lobby(CODE)
        assert peeked is not None and peeked.name == "theirs"
        copy.name = "mine"
        with pytest.raises(LobbyConflict):
            mine.save_lobby(copy)
    finally:
        mine.close()
        theirs.close()


def test_a_cached_peek_follows_another_nodes_kick_once_announced(redis_url: str) -> None:
    """A cached copy drops a guest kicked on another node once that save's announcement arrives."""
    node_a, node_b = RedisBackend(redis_url), RedisBackend(redis_url)
    node_b.enable_cache()
    listener = redis.Redis.from_url(redis_url, socket_timeout=scaled(5))
    pubsub = listener.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
    try:
        pubsub.subscribe(node_b.changes_channel)
        node_a.add_lobby(_lobby_with_bob())
        before = node_b.peek_lobby(CODE)
        assert before is not None and before.role_of(BOB) is Role.GUEST
        assert node_b.peek_lobby(CODE) is before  # served from the cache, decoded once
        lobby = node_a.get_lobby(CODE)
        assert lobby is not None
        del lobby.guests[BOB]
        node_a.save_lobby(lobby)
        stale = node_b.peek_lobby(CODE)
        assert stale is not None and stale.role_of(BOB) is Role.GUEST
        node_b.lobby_changed(_next_announcement(pubsub))
        after = node_b.peek_lobby(CODE)
        assert after is not None and after.role_of(BOB) is Role.IDLE
        node_a.remove_lobby(CODE)
        node_b.lobby_changed(_next_announcement(pubsub))
        assert node_b.peek_lobby(CODE) is None
    finally:
        pubsub.close()
        listener.close()
        node_a.close()
        node_b.close()
