"""Invite addresses: who can reach each, which one a link starts with, and the link itself."""

from __future__ import annotations

import ifaddr
import pytest

from lobbyhost_app.invite_address import (
    AddressSource,
    InviteAddress,
    Reach,
    address_scope_note,
    interface_addresses,
    invite_choices,
    preferred_invite_address,
    reach_note,
    reach_of,
)


@pytest.mark.parametrize(
    ("host", "reach"),
    [
        ("127.0.0.1", Reach.THIS_COMPUTER),
        ("::1", Reach.THIS_COMPUTER),
        ("localhost", Reach.THIS_COMPUTER),
        ("192.168.1.20", Reach.LOCAL_NETWORK),
        ("10.0.0.7", Reach.LOCAL_NETWORK),
        ("172.20.1.1", Reach.LOCAL_NETWORK),
        ("100.64.3.4", Reach.LOCAL_NETWORK),  # carrier-grade NAT space
        ("169.254.10.10", Reach.LOCAL_NETWORK),
        ("fd12:3456::1", Reach.LOCAL_NETWORK),
        ("[fe80::1]", Reach.LOCAL_NETWORK),
        ("203.0.113.10", Reach.INTERNET),
        ("2001:db8::5", Reach.INTERNET),
        ("lobby.example.org", Reach.INTERNET),
    ],
)
def test_who_can_reach_an_address(host: str, reach: Reach) -> None:
    """Loopback is this computer, RFC 1918 / CGNAT / ULA / link-local the local network, the rest the internet."""
    assert reach_of(host) is reach


def test_a_private_link_is_labelled_only_on_your_network() -> None:
    """A link with a private address says "only on your network"; loopback "only on this computer"."""
    assert reach_note(InviteAddress("192.168.1.20", AddressSource.INTERFACE).reach) == (
        "only on your network"
    )
    assert reach_note(Reach.THIS_COMPUTER) == "only on this computer"
    assert reach_note(Reach.INTERNET).startswith("from the internet")


def test_scope_notes_say_why_an_address_cannot_work_from_outside() -> None:
    """Private and link-local addresses get a sentence; public ones none."""
    assert address_scope_note("192.168.1.20") == (
        "192.168.1.20 is a private address: it only works on the host's own network"
    )
    assert address_scope_note("169.254.1.1") is not None
    assert address_scope_note("203.0.113.10") is None


def test_the_link_uses_the_address_and_brackets_ipv6() -> None:
    """An invite link is http://HOST:PORT/join/CODE, IPv6 in brackets."""
    assert InviteAddress("203.0.113.10", AddressSource.STUN).link(8765, "K7QX2M") == (
        "http://203.0.113.10:8765/join/K7QX2M"
    )
    assert InviteAddress("2001:db8::5", AddressSource.CUSTOM).link(80, "K7QX2M") == (
        "http://[2001:db8::5]:80/join/K7QX2M"
    )


def adapter(name: str, *addresses: str) -> ifaddr.Adapter:
    ips = [
        ifaddr.IP(text, 24, name) if ":" not in text else ifaddr.IP((text, 0, 0), 64, name)
        for text in addresses
    ]
    return ifaddr.Adapter(name, name, ips)


def test_interfaces_offer_ipv4_first_then_ipv6_and_loopback_last() -> None:
    """Every interface's address, link-local left out, loopback at the end, each naming its interface."""
    adapters = [
        adapter("lo", "127.0.0.1", "::1"),
        adapter("eth0", "192.168.1.20", "fe80::1", "2001:db8::20"),
        adapter("docker0", "172.17.0.1"),
    ]
    found = interface_addresses(adapters)
    assert [(a.host, a.detail) for a in found] == [
        ("192.168.1.20", "eth0"),
        ("172.17.0.1", "docker0"),
        ("2001:db8::20", "eth0"),
        ("127.0.0.1", "lo"),
        ("::1", "lo"),
    ]
    assert found[0].describe() == "192.168.1.20 (network interface eth0)"


def test_a_server_on_one_address_is_invited_to_that_address_only() -> None:
    """Listening everywhere offers every interface; listening on one address offers it alone."""
    interfaces = [
        InviteAddress("192.168.1.20", AddressSource.INTERFACE, "eth0"),
        InviteAddress("127.0.0.1", AddressSource.INTERFACE, "lo"),
    ]
    assert invite_choices("0.0.0.0", interfaces) == interfaces
    assert invite_choices("127.0.0.1", interfaces) == [interfaces[1]]
    assert invite_choices("0.0.0.0", []) == [
        InviteAddress("127.0.0.1", AddressSource.INTERFACE, "lo")
    ]


def test_a_link_starts_with_the_routers_address_else_a_lan_address() -> None:
    """The router's mapped address wins; otherwise an interface others can reach; loopback last; STUN never by itself."""
    loopback = InviteAddress("127.0.0.1", AddressSource.INTERFACE, "lo")
    lan = InviteAddress("192.168.1.20", AddressSource.INTERFACE, "eth0")
    stun = InviteAddress("203.0.113.10", AddressSource.STUN, "stun:127.0.0.1:3478")
    router = InviteAddress("203.0.113.10", AddressSource.ROUTER, "UPnP")
    assert preferred_invite_address([loopback, lan, stun]) == lan
    assert preferred_invite_address([loopback, lan, stun, router]) == router
    assert preferred_invite_address([loopback, stun]) == loopback
