"""The real client address behind a reverse proxy (``X-Forwarded-For``), from trusted proxies only.

Anyone can send an ``X-Forwarded-For`` header, so it is believed only when the
connection comes from a configured proxy; then the right-most address in it
that is not itself a trusted proxy is the client (each proxy appends the
address it saw, so entries further left are the client's own claims).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def trusted_networks(proxies: Iterable[str]) -> tuple[Network, ...]:
    """The configured proxies as networks (a single address is a /32 or /128)."""
    return tuple(ipaddress.ip_network(proxy, strict=False) for proxy in proxies)


def client_address(
    peer: str, headers: Sequence[tuple[str, str]], trusted: Sequence[Network]
) -> str:
    """``peer``, or the client a trusted proxy at ``peer`` forwarded for."""
    if not trusted or not _is_trusted(peer, trusted):
        return peer
    hops = [
        hop.strip()
        for name, value in headers
        if name.lower() == "x-forwarded-for"
        for hop in value.split(",")
    ]
    client = peer
    for hop in reversed(hops):
        try:
            address = str(ipaddress.ip_address(hop.strip("[]")))
        except ValueError:
            break  # garbage (or a port, "unknown"): stop at the last address we could trust
        client = address
        if not _is_trusted(address, trusted):
            break
    return client


def _is_trusted(address: str, trusted: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in trusted)
