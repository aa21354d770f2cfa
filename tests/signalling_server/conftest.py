"""Fixtures of the signalling server's integration tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import redis

from tests.signalling_server.redis_server import RedisServer, running_redis
from tests.signalling_server.wsclient import Lab, open_lab


@pytest.fixture
async def lab() -> AsyncIterator[Lab]:
    """A server on 127.0.0.1 port 0 with default limits; clients are closed at the end."""
    async with open_lab() as lab:
        yield lab


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One real redis-server for the session (free loopback port, nothing on disk)."""
    with running_redis() as server:
        yield server


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The session's Redis, emptied for this test (and started again if a test stopped it)."""
    if not redis_server.running:
        redis_server.start()
    client = redis.Redis.from_url(redis_server.url)
    try:
        client.flushall()
    finally:
        client.close()
    return redis_server.url
