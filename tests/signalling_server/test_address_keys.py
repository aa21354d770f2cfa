"""The key per-address budgets are kept under: an IPv4 address, or an IPv6 /64."""

from __future__ import annotations

import pytest

from signalling_server.address_keys import budget_key


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("192.0.2.7", "192.0.2.7"),
        ("2001:db8:1:2::a", "2001:db8:1:2::/64"),
        ("2001:DB8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),
        ("::ffff:192.0.2.7", "192.0.2.7"),
        ("fe80::1%eth0", "fe80::1"),
        ("fe80::2", "fe80::2"),
        ("::1", "::1"),
        ("", ""),
        ("/run/lobbyhost.sock", "/run/lobbyhost.sock"),
    ],
)
def test_budget_key(address: str, key: str) -> None:
    """IPv4 per address, IPv6 per /64 (link-local and loopback per address), mapped IPv4 as IPv4."""
    assert budget_key(address) == key


def test_addresses_of_one_ipv6_64_share_a_key_and_others_do_not() -> None:
    """Two addresses of one /64 share a budget; the neighbouring /64 has its own."""
    assert budget_key("2001:db8:1:2::a") == budget_key("2001:db8:1:2:8000::b")
    assert budget_key("2001:db8:1:2::a") != budget_key("2001:db8:1:3::a")
    assert budget_key("192.0.2.7") != budget_key("192.0.2.8")
