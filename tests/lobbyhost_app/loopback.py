"""ICE on loopback for every client-side test: the allow-list, installed around each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lobbyhost_app.net.ice import IceSettings, address_allow_list

#: No ICE servers, host candidates on 127.0.0.1 only.
LOOPBACK = IceSettings(allowed_addresses=("127.0.0.1",))


@pytest.fixture(autouse=True)
def loopback_ice() -> Iterator[None]:
    """ICE gathers on 127.0.0.1 only while a test runs; what was installed before comes back."""
    with address_allow_list(LOOPBACK.allowed_addresses):
        yield
