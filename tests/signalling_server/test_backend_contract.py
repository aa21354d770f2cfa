"""The StateBackend contract, run against every backend."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from signalling_server.backend import MemoryBackend, StateBackend, TokenGrant
from signalling_server.ids import LobbyId
from signalling_server.lobby import Lobby, Member, Role

BACKENDS: dict[str, Callable[[], StateBackend]] = {"memory": MemoryBackend}


@pytest.fixture(params=sorted(BACKENDS))
def backend(request: pytest.FixtureRequest) -> StateBackend:
    return BACKENDS[request.param]()


def _lobby(code: str) -> Lobby:
    host = Member(
        name="Host",
        peer_id=1,
        token_id="t",
        token_secret="s",
        connection_id=None,
        last_connection_id="c",  # type: ignore[arg-type]
    )
    return Lobby(
        lobby_id=LobbyId(code),
        name="L",
        host=host,
        host_address="127.0.0.1",
        max_guests=8,
        password=None,
    )


def test_codes_are_claimed_once(backend: StateBackend) -> None:
    """add_lobby refuses a code that is taken, and frees it on remove_lobby."""
    assert backend.add_lobby(_lobby("AAAAAA"))
    assert not backend.add_lobby(_lobby("AAAAAA"))
    assert backend.lobby_count() == 1
    backend.remove_lobby(LobbyId("AAAAAA"))
    backend.remove_lobby(LobbyId("AAAAAA"))  # unknown codes are ignored
    assert backend.get_lobby(LobbyId("AAAAAA")) is None
    assert backend.add_lobby(_lobby("AAAAAA"))


def test_saved_changes_are_seen(backend: StateBackend) -> None:
    """A lobby changed and saved reads back changed."""
    lobby = _lobby("BBBBBB")
    backend.add_lobby(lobby)
    lobby.open = False
    backend.save_lobby(lobby)
    stored = backend.get_lobby(LobbyId("BBBBBB"))
    assert stored is not None and stored.open is False
    assert [item.lobby_id for item in backend.lobbies()] == ["BBBBBB"]


def test_tokens_are_stored_and_dropped(backend: StateBackend) -> None:
    """put_token / get_token / drop_token round-trip; dropping twice is harmless."""
    grant = TokenGrant(LobbyId("CCCCCC"), Role.GUEST)
    backend.put_token("tid", grant)
    assert backend.get_token("tid") == grant
    backend.drop_token("tid")
    backend.drop_token("tid")
    assert backend.get_token("tid") is None
