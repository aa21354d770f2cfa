"""Invite links and typed server addresses (Qt-free helpers of the desktop app)."""

from __future__ import annotations

import pytest

from lobbyhost_app.invite import (
    AddressError,
    JoinTarget,
    embedded_invite_link,
    lan_address,
    local_connect_host,
    normalize_server_url,
    parse_join_target,
    remote_invite_link,
)


def test_lan_address_is_the_first_non_loopback_ipv4() -> None:
    """Loopback, link-local and IPv6 addresses are passed over; none left means 127.0.0.1."""
    assert (
        lan_address(["127.0.0.1", "::1", "fe80::1", "169.254.3.4", "192.168.1.20", "10.0.0.2"])
        == "192.168.1.20"
    )
    assert lan_address(["127.0.0.1", "::1"]) == "127.0.0.1"
    assert lan_address(["not-an-ip"]) == "127.0.0.1"


def test_embedded_invite_link_uses_the_lan_address_only_when_listening_everywhere() -> None:
    """0.0.0.0 gives the LAN address; a specific listen address is used as it is."""
    lan = ["127.0.0.1", "192.168.1.20"]
    assert (
        embedded_invite_link("0.0.0.0", 8765, "K7QX2M", lan)
        == "http://192.168.1.20:8765/join/K7QX2M"
    )
    assert (
        embedded_invite_link("127.0.0.1", 4000, "K7QX2M", lan)
        == "http://127.0.0.1:4000/join/K7QX2M"
    )
    assert embedded_invite_link("::1", 4000, "K7QX2M", lan) == "http://[::1]:4000/join/K7QX2M"


def test_remote_invite_link_follows_the_servers_scheme_and_path() -> None:
    """wss becomes https, ws becomes http, and a path prefix is kept."""
    assert (
        remote_invite_link("wss://lobby.example.org/", "ABC123")
        == "https://lobby.example.org/join/ABC123"
    )
    assert (
        remote_invite_link("ws://10.0.0.5:9000/lh/", "ABC123")
        == "http://10.0.0.5:9000/lh/join/ABC123"
    )


def test_local_connect_host_reaches_a_wildcard_listener_on_loopback() -> None:
    """The host app connects to its own server on loopback when it listens everywhere."""
    assert local_connect_host("0.0.0.0") == "127.0.0.1"
    assert local_connect_host("::") == "::1"
    assert local_connect_host("192.168.1.20") == "192.168.1.20"


@pytest.mark.parametrize(
    ("typed", "url"),
    [
        ("192.168.1.20:8765", "ws://192.168.1.20:8765/"),
        (" ws://127.0.0.1:8765 ", "ws://127.0.0.1:8765/"),
        ("http://127.0.0.1:8765/", "ws://127.0.0.1:8765/"),
        ("https://lobby.example.org", "wss://lobby.example.org/"),
        ("[::1]:8765", "ws://[::1]:8765/"),
    ],
)
def test_typed_addresses_become_websocket_urls(typed: str, url: str) -> None:
    """What people type (host:port, http links, ws URLs) becomes a ws:// or wss:// URL."""
    assert normalize_server_url(typed) == url


@pytest.mark.parametrize("typed", ["", "ftp://x:1/", "ws://host:port/", "://"])
def test_bad_addresses_raise_a_readable_error(typed: str) -> None:
    """Nonsense is an AddressError with a sentence, not a crash."""
    with pytest.raises(AddressError, match=r"\w+"):
        normalize_server_url(typed)


def test_an_invite_link_splits_into_server_and_code() -> None:
    """A whole invite link gives the server to connect to and the code."""
    assert parse_join_target("http://192.168.1.20:8765/join/K7QX2M") == JoinTarget(
        "ws://192.168.1.20:8765/", "K7QX2M"
    )
    assert parse_join_target("https://lobby.example.org/lh/join/K7QX2M/") == JoinTarget(
        "wss://lobby.example.org/lh/", "K7QX2M"
    )
    assert parse_join_target("192.168.1.20:8765") == JoinTarget("ws://192.168.1.20:8765/")
