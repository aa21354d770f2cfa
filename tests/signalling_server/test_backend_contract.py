"""The StateBackend contract, run against every backend, with and without copy semantics.

``redis`` is a real redis-server the tests start (tests/signalling_server/redis_server.py).
"""

from __future__ import annotations

import pytest

from signalling_server.backend import LobbyConflict, MemoryBackend, StateBackend, TokenGrant
from signalling_server.backend.redis import RedisBackend
from signalling_server.ids import LobbyId
from signalling_server.lobby import Role
from signalling_server.protocol import GuestLeft, LeaveReason, RequestToJoin
from tests.signalling_server import backends
from tests.signalling_server.backends import stored_lobby

from .harness import Harness, accept, open_lobby

#: Every backend kind, as a parametrized fixture.
backend = backends.backend


def test_codes_are_claimed_once(backend: StateBackend) -> None:
    """add_lobby refuses a code that is taken, and frees it on remove_lobby."""
    assert backend.add_lobby(stored_lobby("AAAAAA"))
    assert not backend.add_lobby(stored_lobby("AAAAAA"))
    assert backend.lobby_count() == 1
    backend.remove_lobby(LobbyId("AAAAAA"))
    backend.remove_lobby(LobbyId("AAAAAA"))  # unknown codes are ignored
    assert backend.get_lobby(LobbyId("AAAAAA")) is None
    assert backend.add_lobby(stored_lobby("AAAAAA"))


def test_saved_changes_are_seen(backend: StateBackend) -> None:
    """A lobby changed and saved reads back changed, backlog of events included."""
    lobby = stored_lobby("BBBBBB")
    backend.add_lobby(lobby)
    lobby.open = False
    lobby.host_backlog.append(RequestToJoin("c2", "Bob"))
    lobby.host_backlog.append(GuestLeft("c3", LeaveReason.DISCONNECTED))
    backend.save_lobby(lobby)
    stored = backend.get_lobby(LobbyId("BBBBBB"))
    assert stored is not None and stored.open is False
    assert stored.host_backlog == [
        RequestToJoin("c2", "Bob"),
        GuestLeft("c3", LeaveReason.DISCONNECTED),
    ]
    assert [item.lobby_id for item in backend.lobbies()] == ["BBBBBB"]


def test_a_removed_lobby_stays_removed(backend: StateBackend) -> None:
    """Saving a lobby that was removed meanwhile does not bring it back."""
    lobby = stored_lobby("CCCCCC")
    backend.add_lobby(lobby)
    backend.remove_lobby(LobbyId("CCCCCC"))
    backend.save_lobby(lobby)
    assert backend.get_lobby(LobbyId("CCCCCC")) is None
    assert backend.lobby_count() == 0


def test_unsaved_changes_are_lost_with_copies() -> None:
    """With copy semantics a change that is not saved never reaches the store."""
    backend = MemoryBackend(copies=True)
    backend.add_lobby(stored_lobby("DDDDDD"))
    copy = backend.get_lobby(LobbyId("DDDDDD"))
    assert copy is not None
    copy.open = False
    again = backend.get_lobby(LobbyId("DDDDDD"))
    assert again is not None and again.open is True and again is not copy


def test_tokens_are_stored_and_dropped(backend: StateBackend) -> None:
    """put_token / get_token / drop_token round-trip; dropping twice is harmless."""
    grant = TokenGrant(LobbyId("CCCCCC"), Role.GUEST)
    backend.put_token("tid", grant)
    assert backend.get_token("tid") == grant
    backend.drop_token("tid")
    backend.drop_token("tid")
    assert backend.get_token("tid") is None


def test_away_host_gets_its_notices_replayed(backend: StateBackend) -> None:
    """Notices kept for an away host (in the lobby record) are replayed on resume, in order."""
    h = Harness(backend=backend)
    host, code, token = open_lobby(h)
    bob, _ = accept(h, host, code, "Bob")
    cy, _ = accept(h, host, code, "Cy")
    host.disconnect()
    bob.expect("host_disconnected")
    cy.expect("host_disconnected")
    bob.act("leave_lobby")
    bob.expect("left_lobby")
    cy.disconnect()
    back = h.client("127.0.0.9")
    back.act("resume", token=token)
    assert back.expect("resumed")["role"] == "host"
    assert back.expect("guest_left") == {"connection_id": bob.id, "reason": "left"}
    assert back.expect("guest_left") == {"connection_id": cy.id, "reason": "disconnected"}
    back.assert_silent()
    h.assert_all_silent()


def test_records_are_claimed_once_and_kept_by_kind(backend: StateBackend) -> None:
    """Dialect records: add claims a key once per kind; put, get, remove and keys round-trip."""
    assert backend.add_record("room", "a", b"1")
    assert not backend.add_record("room", "a", b"2")
    assert backend.add_record("channel", "a", b"3")  # another kind, another namespace
    backend.put_record("room", "b", b"4")
    assert backend.get_record("room", "a") == b"1"
    assert sorted(backend.record_keys("room")) == ["a", "b"]
    backend.remove_record("room", "a")
    backend.remove_record("room", "a")  # unknown keys are ignored
    assert backend.get_record("room", "a") is None
    assert backend.record_keys("channel") == ["a"]


def test_unsaved_changes_are_lost_on_redis(redis_url: str) -> None:
    """Redis hands out copies too: a change that is not saved never reaches the store."""
    backend = RedisBackend(redis_url)
    backend.add_lobby(stored_lobby("DDDDDD"))
    copy = backend.get_lobby(LobbyId("DDDDDD"))
    assert copy is not None
    copy.open = False
    again = backend.get_lobby(LobbyId("DDDDDD"))
    assert again is not None and again.open is True and again is not copy
    backend.close()


def test_a_save_over_another_nodes_change_is_refused(redis_url: str) -> None:
    """Two nodes read one lobby; the second save is refused (LobbyConflict), the first one kept."""
    first, second = RedisBackend(redis_url), RedisBackend(redis_url)
    first.add_lobby(stored_lobby("EEEEEE"))
    mine = first.get_lobby(LobbyId("EEEEEE"))
    theirs = second.get_lobby(LobbyId("EEEEEE"))
    assert mine is not None and theirs is not None
    theirs.name = "theirs"
    second.save_lobby(theirs)
    mine.name = "mine"
    with pytest.raises(LobbyConflict):
        first.save_lobby(mine)
    stored = first.get_lobby(LobbyId("EEEEEE"))
    assert stored is not None and stored.name == "theirs"
    stored.name = "mine after all"
    first.save_lobby(stored)  # read again, saved: no conflict
    again = second.get_lobby(LobbyId("EEEEEE"))
    assert again is not None and again.name == "mine after all"
    first.close()
    second.close()


def test_codes_are_claimed_once_across_nodes(redis_url: str) -> None:
    """Two nodes claiming one code: exactly one gets it."""
    first, second = RedisBackend(redis_url), RedisBackend(redis_url)
    assert [first.add_lobby(stored_lobby("FFFFFF")), second.add_lobby(stored_lobby("FFFFFF"))] == [
        True,
        False,
    ]
    assert second.lobby_count() == 1
    first.close()
    second.close()
