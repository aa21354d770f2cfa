"""The client address of a request: X-Forwarded-For only from trusted proxies (pure)."""

from __future__ import annotations

import pytest

from signalling_server.transport.client_address import ClientAddresses, parse_networks

XFF = b"x-forwarded-for"


def test_without_trusted_proxies_the_header_is_ignored() -> None:
    """By default the TCP peer is the client, whatever X-Forwarded-For claims."""
    addresses = ClientAddresses()
    assert addresses.resolve("198.51.100.9", [(XFF, b"203.0.113.5")]) == "198.51.100.9"


def test_an_untrusted_peer_cannot_choose_its_address() -> None:
    """A peer outside the trusted ranges keeps its own address."""
    addresses = ClientAddresses(["10.0.0.0/8"])
    assert addresses.resolve("198.51.100.9", [(XFF, b"203.0.113.5")]) == "198.51.100.9"


def test_the_rightmost_untrusted_hop_is_the_client() -> None:
    """Hops the client wrote (left of the first untrusted one) are never believed."""
    addresses = ClientAddresses(["10.0.0.0/8", "2001:db8:ffff::/48"])
    headers = [(XFF, b"192.0.2.66, 203.0.113.5, 10.1.1.1")]
    assert addresses.resolve("10.0.0.2", headers) == "203.0.113.5"
    v6 = [(XFF, b"2001:DB8:1:2::A, 2001:db8:ffff::7")]
    assert addresses.resolve("2001:db8:ffff::1", v6) == "2001:db8:1:2::a"


def test_several_header_lines_make_one_list_and_ports_are_dropped() -> None:
    """Header lines join in order; '1.2.3.4:5' and '[v6]:5' forms are read."""
    addresses = ClientAddresses(["127.0.0.1"])
    headers = [(XFF, b"192.0.2.1"), (b"host", b"x"), (XFF, b"203.0.113.5:4711")]
    assert addresses.resolve("127.0.0.1", headers) == "203.0.113.5"
    assert addresses.resolve("127.0.0.1", [(XFF, b"[2001:db8::5]:4711")]) == "2001:db8::5"


def test_a_trusted_proxy_without_the_header_or_with_garbage_is_its_own_client() -> None:
    """No header, or a hop that is not an address, leaves the proxy's own address."""
    addresses = ClientAddresses(["127.0.0.0/8"])
    assert addresses.resolve("127.0.0.1", []) == "127.0.0.1"
    assert addresses.resolve("127.0.0.1", [(XFF, b"unknown")]) == "127.0.0.1"
    assert addresses.resolve("127.0.0.1", [(XFF, b"203.0.113.5, nonsense")]) == "127.0.0.1"


def test_only_trusted_hops_means_the_leftmost_is_the_client() -> None:
    """A chain of trusted proxies names the first of them."""
    addresses = ClientAddresses(["10.0.0.0/8"])
    assert addresses.resolve("10.0.0.3", [(XFF, b"10.0.0.1, 10.0.0.2")]) == "10.0.0.1"


def test_ipv4_mapped_peers_match_ipv4_ranges() -> None:
    """A dual-stack socket's ::ffff:a.b.c.d peer is trusted by an IPv4 range."""
    addresses = ClientAddresses(["127.0.0.0/8"])
    assert addresses.is_trusted("::ffff:127.0.0.1")
    assert not addresses.is_trusted("::1")


def test_a_bad_range_is_named() -> None:
    """A trusted proxy that is not an address or CIDR range is a ValueError naming it."""
    with pytest.raises(ValueError, match=r"'10\.0\.0\.0/33'"):
        parse_networks(["10.0.0.0/33"])
