"""Dialect records on Redis, written by two nodes: a change made on a stale read is refused."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from signalling_server.backend import LobbyConflict
from signalling_server.backend.redis import RedisBackend

KIND = "camus-room"


@pytest.fixture
def nodes(redis_url: str) -> Iterator[tuple[RedisBackend, RedisBackend]]:
    """Two backends on one emptied Redis, as two nodes hold them."""
    first, second = RedisBackend(redis_url), RedisBackend(redis_url)
    yield first, second
    first.close()
    second.close()


def test_a_record_changed_by_another_node_since_the_read_is_not_overwritten(
    nodes: tuple[RedisBackend, RedisBackend],
) -> None:
    """Both nodes read a room and change it: the second save is a conflict, the first one stays."""
    first, second = nodes
    assert first.add_record(KIND, "room", b"v1")
    assert first.get_record(KIND, "room") == second.get_record(KIND, "room") == b"v1"
    first.put_record(KIND, "room", b"v2 by first")
    with pytest.raises(LobbyConflict):
        second.put_record(KIND, "room", b"v2 by second")
    assert second.get_record(KIND, "room") == b"v2 by first"
    second.put_record(KIND, "room", b"v3 by second")  # read again: saved
    assert first.get_record(KIND, "room") == b"v3 by second"


def test_a_record_removed_or_made_elsewhere_since_the_read_is_a_conflict(
    nodes: tuple[RedisBackend, RedisBackend],
) -> None:
    """A removed record is not brought back by a stale save; one read as absent is not overwritten."""
    first, second = nodes
    assert first.add_record(KIND, "gone", b"v1")
    assert second.get_record(KIND, "gone") == b"v1"
    first.remove_record(KIND, "gone")
    with pytest.raises(LobbyConflict):
        second.put_record(KIND, "gone", b"v2")
    assert first.get_record(KIND, "gone") is None
    assert second.get_record(KIND, "new") is None
    first.put_record(KIND, "new", b"first's")
    with pytest.raises(LobbyConflict):
        second.put_record(KIND, "new", b"second's")
    assert second.get_record(KIND, "new") == b"first's"


def test_a_record_never_read_here_is_written_as_is(
    nodes: tuple[RedisBackend, RedisBackend],
) -> None:
    """A node storing a record it never read (a fresh snapshot) writes it without a check."""
    first, second = nodes
    first.put_record(KIND, "fresh", b"a")
    second.put_record(KIND, "fresh", b"b")
    assert first.get_record(KIND, "fresh") == b"b"
