"""Where a request comes from: the TCP peer, or the client a trusted proxy names.

Behind a reverse proxy every TCP peer is the proxy, and per-address budgets
would become one budget for everyone. A proxy that the operator trusts
(``--trusted-proxy CIDR``) appends the address it saw to ``X-Forwarded-For``;
the client is the rightmost hop of that list that is not itself a trusted
proxy. Hops further left were written by the client and prove nothing, so
they are never read past the first untrusted one. From any other peer the
header is ignored: a client cannot choose its own address.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable

logger = logging.getLogger(__name__)

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_Address = ipaddress.IPv4Address | ipaddress.IPv6Address

#: The header a proxy names the client in (h11 gives header names in lower case).
FORWARDED_FOR = b"x-forwarded-for"


def parse_networks(values: Iterable[str]) -> tuple[_Network, ...]:
    """CIDR ranges (a bare address is a /32 or /128); ``ValueError`` names a bad one."""
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError as exc:
            raise ValueError(f"not an address or CIDR range: {value!r}") from exc
    return tuple(networks)


def _parse_ip(text: str) -> _Address | None:
    """An address as a peer or a proxy writes it; ``None`` when it is not one.

    Proxies write ``192.0.2.7``, ``2001:db8::7``, and some add a port
    (``192.0.2.7:5000``, ``[2001:db8::7]:5000``).
    """
    text = text.strip()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        ip = ipaddress.ip_address(text.partition("%")[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


class ClientAddresses:
    """Finds a request's client address, given the proxies the operator trusts."""

    __slots__ = ("_networks",)

    def __init__(self, trusted_proxies: Iterable[str] = ()) -> None:
        self._networks = parse_networks(trusted_proxies)

    @property
    def any_trusted(self) -> bool:
        """Whether any proxy is trusted (without one, every peer is the client)."""
        return bool(self._networks)

    def is_trusted(self, peer: str) -> bool:
        """Whether ``peer`` (a TCP peer's address) is a trusted proxy."""
        if not self._networks:
            return False
        ip = _parse_ip(peer)
        return ip is not None and self._trusted(ip)

    def resolve(self, peer: str, headers: Iterable[tuple[bytes, bytes]]) -> str:
        """The client's address: ``peer`` itself unless it is a trusted proxy that names one."""
        if not self.is_trusted(peer):
            return peer
        hops: list[str] = []
        for name, value in headers:
            if name == FORWARDED_FOR:
                # Several header lines make one list, in order (RFC 9110, 5.3).
                hops.extend(value.decode("latin-1").split(","))
        client = peer
        for hop in reversed(hops):
            ip = _parse_ip(hop)
            if ip is None:
                # A trusted proxy wrote something that is not an address: the
                # request stays the proxy's own rather than trust what is left of it.
                logger.debug("ignoring X-Forwarded-For from %s: %r is not an address", peer, hop)
                return client
            client = str(ip)
            if not self._trusted(ip):
                return client
        return client  # every hop is a trusted proxy: the leftmost one is the client

    def _trusted(self, ip: _Address) -> bool:
        return any(ip in network for network in self._networks)


__all__ = ["FORWARDED_FOR", "ClientAddresses", "parse_networks"]
