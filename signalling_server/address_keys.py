"""Which budget a client address counts against: the one function that decides.

Per-address limits (open lobbies, join attempts, HTTP requests, open
connections, a host's "kick and block") are kept per *key*, not per address:
an IPv4 address is its own key, but an IPv6 client usually holds a whole /64
(SLAAC, privacy addresses) and could take a fresh address for every attempt,
so every address of one /64 shares one key. IPv4-mapped IPv6 addresses
(``::ffff:192.0.2.7``, what a dual-stack socket reports for an IPv4 client)
count as the IPv4 address they carry. Link-local and loopback IPv6 addresses,
which cannot come from beyond this link, count one by one.
"""

from __future__ import annotations

import functools
import ipaddress
from typing import Final

#: The prefix length an IPv6 client is assumed to control.
IPV6_PREFIX: Final = 64


@functools.lru_cache(maxsize=4096)
def budget_key(address: str) -> str:
    """The key ``address``'s budgets are kept under (``2001:db8:1:2::/64``, ``192.0.2.7``).

    Anything that is not an IP address (an empty string, a Unix socket path)
    is its own key, unchanged.
    """
    try:
        ip = ipaddress.ip_address(address.partition("%")[0])  # drop a zone id (fe80::1%eth0)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv4Address):
        return str(ip)
    if ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    if ip.is_link_local or ip.is_loopback:
        # Only reachable from this link or this machine: every guest of a LAN
        # party shares fe80::/64, and none of them is rotating addresses at us.
        return str(ip)
    return str(ipaddress.IPv6Network((ip, IPV6_PREFIX), strict=False))


__all__ = ["IPV6_PREFIX", "budget_key"]
