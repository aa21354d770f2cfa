"""Fixtures of the signalling server's integration tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.signalling_server.wsclient import Lab, open_lab


@pytest.fixture
async def lab() -> AsyncIterator[Lab]:
    """A server on 127.0.0.1 port 0 with default limits; clients are closed at the end."""
    async with open_lab() as lab:
        yield lab
