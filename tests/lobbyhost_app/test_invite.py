"""Invite links and typed server addresses (Qt-free helpers of the desktop app)."""

from __future__ import annotations

import pytest

from lobbyhost_app.invite import (
    AddressError,
    JoinTarget,
    check_listen_host,
    embedded_invite_link,
    lan_address,
    local_connect_host,
    normalize_server_url,
    parse_join_target,
    reachable_hosts,
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


@pytest.mark.parametrize(
    ("typed", "target"),
    [
        ("192.168.1.20", JoinTarget("ws://192.168.1.20:8765/")),
        (" 127.0.0.1 ", JoinTarget("ws://127.0.0.1:8765/")),
        ("[::1]", JoinTarget("ws://[::1]:8765/")),
        ("lobby.lan/join/K7QX2M", JoinTarget("ws://lobby.lan:8765/", "K7QX2M")),
        ("192.168.1.20:9000", JoinTarget("ws://192.168.1.20:9000/")),
        ("ws://lobby.example.org/", JoinTarget("ws://lobby.example.org/")),
        ("http://192.168.1.20/join/K7QX2M", JoinTarget("ws://192.168.1.20/", "K7QX2M")),
    ],
)
def test_a_join_address_without_a_port_uses_8765(typed: str, target: JoinTarget) -> None:
    """An address typed without scheme or port means LobbyHost's port 8765; URLs keep theirs."""
    assert parse_join_target(typed) == target


@pytest.mark.parametrize("typed", ["ws://lobby example.org/", "192.168.1.20 :8765", "my pc"])
def test_a_server_address_with_a_space_is_refused(typed: str) -> None:
    """A space can never be part of a server address: refused with a sentence saying so."""
    with pytest.raises(AddressError, match="has a space in it"):
        normalize_server_url(typed)


@pytest.mark.parametrize(
    ("typed", "complaint"),
    [
        ("192.168.1.300", "'192.168.1.300' is not an IP address."),
        ("127.0.0.1:8765", "'127.0.0.1:8765' is not an IP address (put the port in the Port"),
        ("::zz", "'::zz' is not an IP address."),
        ("my pc", "'my pc' is not an IP address or a host name"),
        ("under_score", "'under_score' is not an IP address or a host name"),
    ],
)
def test_a_listen_address_that_can_never_work_is_refused(typed: str, complaint: str) -> None:
    """Malformed IP literals and names are refused without any lookup, with the reason."""
    with pytest.raises(AddressError) as caught:
        check_listen_host(typed)
    assert str(caught.value).startswith(complaint)


@pytest.mark.parametrize(
    ("typed", "host"),
    [("", "0.0.0.0"), ("0.0.0.0", "0.0.0.0"), ("127.0.0.1", "127.0.0.1"), ("[::1]", "::1")],
)
def test_listen_addresses_that_work_are_kept(typed: str, host: str) -> None:
    """Wildcards and IP literals pass as they are (IPv6 without brackets)."""
    assert check_listen_host(typed) == host


def test_localhost_resolves_as_a_listen_address() -> None:
    """A name is looked up (here localhost, from /etc/hosts) and kept when it resolves."""
    assert check_listen_host("localhost") == "localhost"


def test_reachable_hosts_are_the_lan_addresses_for_a_wildcard_listener() -> None:
    """0.0.0.0 is reached at every LAN IPv4 address (the invite link's first), else 127.0.0.1."""
    lan = ["127.0.0.1", "::1", "fe80::1", "169.254.3.4", "192.168.1.20", "10.0.0.2"]
    assert reachable_hosts("0.0.0.0", lan) == ["192.168.1.20", "10.0.0.2"]
    assert reachable_hosts("0.0.0.0", lan)[0] in embedded_invite_link("0.0.0.0", 1, "C", lan)
    assert reachable_hosts("0.0.0.0", ["127.0.0.1"]) == ["127.0.0.1"]
    assert reachable_hosts("[::1]", lan) == ["::1"]
