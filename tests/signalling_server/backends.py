"""Every state backend, as a parametrized fixture (memory, memory with copies, a real Redis), and a lobby record to store in them."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from signalling_server.backend import MemoryBackend, StateBackend
from signalling_server.backend.redis import RedisBackend
from signalling_server.ids import ConnectionId, LobbyId
from signalling_server.lobby import Lobby, Member

BACKENDS: dict[str, Callable[[], StateBackend]] = {
    "memory": MemoryBackend,
    # As a networked store behaves: every read is a fresh copy, only saves persist.
    "memory-copies": lambda: MemoryBackend(copies=True),
}


@pytest.fixture(params=[*sorted(BACKENDS), "redis"])
def backend(request: pytest.FixtureRequest) -> Iterator[StateBackend]:
    """A fresh backend of each kind (``redis``: the session's redis-server)."""
    if request.param != "redis":
        yield BACKENDS[request.param]()
        return
    redis_backend = RedisBackend(request.getfixturevalue("redis_url"))
    yield redis_backend
    redis_backend.close()


def stored_lobby(
    code: str,
    *,
    host_connection: str | None = None,
    host_address: str = "127.0.0.1",
    last_connection: str = "c",
) -> Lobby:
    """A lobby record as a backend stores it: a host (live on ``host_connection``), no guests."""
    host = Member(
        name="Host",
        peer_id=1,
        token_id="t",
        token_secret="s",
        connection_id=ConnectionId(host_connection) if host_connection is not None else None,
        last_connection_id=ConnectionId(last_connection),
    )
    return Lobby(
        lobby_id=LobbyId(code),
        name="L",
        host=host,
        host_address=host_address,
        max_guests=8,
        password=None,
    )
