"""Every state backend, as a parametrized fixture: memory, memory with copies, a real Redis."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from signalling_server.backend import MemoryBackend, StateBackend
from signalling_server.backend.redis import RedisBackend

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
