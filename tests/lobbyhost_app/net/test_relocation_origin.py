"""The origin a moved lobby's new server lets in: the old server's guest pages."""

from __future__ import annotations

import pytest

from lobbyhost_app.net.relocation import page_origin


@pytest.mark.parametrize(
    ("server_url", "origin"),
    [
        ("ws://127.0.0.1:8765/", "http://127.0.0.1:8765"),
        ("wss://lobby.example.org/", "https://lobby.example.org"),
        ("ws://[::1]:9000/", "http://[::1]:9000"),
        ("http://127.0.0.1:8765/", None),
        ("not a url", None),
    ],
)
def test_the_old_servers_page_origin_is_derived_from_its_websocket_address(
    server_url: str, origin: str | None
) -> None:
    """Pages served by ws://host:port come from http://host:port; other addresses give none."""
    assert page_origin(server_url) == origin
