"""The Origin allow-list of the native websocket endpoint (pure)."""

from __future__ import annotations

import pytest

from signalling_server.origins import InvalidOrigin, OriginPolicy, normalise_origin


@pytest.mark.parametrize(
    ("text", "normalised"),
    [
        ("https://Games.Example.org", "https://games.example.org:443"),
        ("http://127.0.0.1:8765", "http://127.0.0.1:8765"),
        ("http://[2001:db8::1]", "http://[2001:db8::1]:80"),
        ("https://games.example.org/", "https://games.example.org:443"),
    ],
)
def test_origins_are_normalised(text: str, normalised: str) -> None:
    """An origin is compared in lower case with its default port spelled out."""
    assert normalise_origin(text) == normalised


@pytest.mark.parametrize(
    "text",
    ["null", "games.example.org", "ftp://x.org", "https://x.org/page", "https://x.org:99999", ""],
)
def test_malformed_origins_are_refused(text: str) -> None:
    """Anything but scheme://host[:port] is an InvalidOrigin (a ValueError)."""
    with pytest.raises(InvalidOrigin):
        normalise_origin(text)


def test_default_policy_allows_no_origin_and_the_servers_own_pages_only() -> None:
    """No Origin, and a page of the host the request was sent to, are allowed; others not."""
    policy = OriginPolicy()
    assert policy.allows(None, "127.0.0.1:8765")
    assert policy.allows("http://127.0.0.1:8765", "127.0.0.1:8765")
    assert policy.allows("https://lobby.example.org", "lobby.example.org")
    assert policy.allows("https://lobby.example.org", "Lobby.Example.org:443")
    assert not policy.allows("https://evil.example.net", "lobby.example.org")
    assert not policy.allows("http://127.0.0.1:9999", "127.0.0.1:8765")
    assert not policy.allows("null", "127.0.0.1:8765")
    assert not policy.allows("https://lobby.example.org", None)


def test_listed_origins_and_the_wildcard() -> None:
    """Listed origins are allowed on any host; '*' allows every origin."""
    listed = OriginPolicy(["https://games.example.org"])
    assert listed.allows("https://games.example.org", "lobby.example.org")
    assert listed.allows("https://games.example.org:443", "lobby.example.org")
    assert not listed.allows("http://games.example.org", "lobby.example.org")
    assert OriginPolicy(["*"]).allows("https://anyone.example.net", "lobby.example.org")
