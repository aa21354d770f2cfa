"""Which address an invite link carries, where it came from, and who can reach it.

Qt-free, for the host window's chooser, the headless host and the tests. An
:class:`InviteAddress` is one address the link could use, with its
:class:`AddressSource`: a network interface of this computer, the public
address a STUN server saw, the external address the router reports (port
mapping), or one the host typed. Its :class:`Reach` says who can use a link
with it: only this computer, only the host's own network, or the internet.
"""

from __future__ import annotations

import enum
import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import ifaddr

from .invite import AddressError, host_port, is_wildcard


class AddressSource(enum.StrEnum):
    """Where an invite address came from."""

    INTERFACE = "interface"  # a network interface of this computer
    STUN = "stun"  # the public address a STUN server saw this computer at
    ROUTER = "router"  # the router's external address, from port mapping
    CUSTOM = "custom"  # typed by the host (a DNS name, a forwarded address ...)


class Reach(enum.StrEnum):
    """Who can use a link with an address."""

    THIS_COMPUTER = "this_computer"
    LOCAL_NETWORK = "local_network"
    INTERNET = "internet"


#: Addresses that never cross a router onto the internet: RFC 1918, shared
#: (carrier-grade NAT) space, IPv6 unique local. Link-local and loopback apart.
_LOCAL_NETWORKS = tuple(
    ipaddress.ip_network(net)
    for net in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7")
)

#: One label of a host name (RFC 1123): letters, digits and inner hyphens.
_HOST_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")

_SOURCE_WORDS = {
    AddressSource.INTERFACE: "network interface",
    AddressSource.STUN: "public address seen by the STUN server",
    AddressSource.ROUTER: "your router's public address",
    AddressSource.CUSTOM: "typed in",
}


def reach_of(host: str) -> Reach:
    """Who can reach ``host``; a DNS name (other than ``localhost``) is taken as public."""
    literal = host.strip("[]")
    if literal.lower() == "localhost":
        return Reach.THIS_COMPUTER
    try:
        address = ipaddress.ip_address(literal)
    except ValueError:
        return Reach.INTERNET
    if address.is_loopback:
        return Reach.THIS_COMPUTER
    if address.is_link_local or any(address in net for net in _LOCAL_NETWORKS):
        return Reach.LOCAL_NETWORK
    return Reach.INTERNET


def reach_note(reach: Reach) -> str:
    """A few words on who a link reaches, for a label next to it."""
    match reach:
        case Reach.THIS_COMPUTER:
            return "only on this computer"
        case Reach.LOCAL_NETWORK:
            return "only on your network"
        case Reach.INTERNET:
            return "from the internet, if the port is open to this computer"


def address_scope_note(host: str) -> str | None:
    """Why ``host`` cannot work from another network, to end an error with; ``None`` if it can."""
    literal = host.strip("[]")
    match reach_of(literal):
        case Reach.THIS_COMPUTER:
            return f"{literal} is this computer's own address: it only reaches this computer"
        case Reach.LOCAL_NETWORK if ipaddress.ip_address(literal).is_link_local:
            return f"{literal} is a link-local address: it only works on the host's own network"
        case Reach.LOCAL_NETWORK:
            return f"{literal} is a private address: it only works on the host's own network"
        case Reach.INTERNET:
            return None


@dataclass(frozen=True, slots=True)
class InviteAddress:
    """One address an invite link could carry, and where it came from."""

    host: str
    source: AddressSource
    #: The interface's name, the STUN server's URL, the router's protocol ...
    detail: str = ""
    #: The port guests use when it is not the server's own (a router may map another).
    port: int | None = None

    @property
    def reach(self) -> Reach:
        return reach_of(self.host)

    def describe(self) -> str:
        """``192.168.1.20 (network interface eth0)``: for a list of choices."""
        words = _SOURCE_WORDS[self.source]
        if self.detail and self.source is AddressSource.INTERFACE:
            words = f"{words} {self.detail}"
        return f"{self.host} ({words})"

    def link(self, port: int, code: str) -> str:
        """The invite link with this address: ``http://HOST:PORT/join/CODE``."""
        return f"http://{host_port(self.host, self.port or port)}/join/{code}"


def interface_addresses(adapters: Iterable[ifaddr.Adapter] | None = None) -> list[InviteAddress]:
    """Every interface address worth offering: IPv4 first, then global IPv6; loopback last."""
    found: list[tuple[int, InviteAddress]] = []
    for adapter in ifaddr.get_adapters() if adapters is None else adapters:
        for ip in adapter.ips:
            text = ip.ip if isinstance(ip.ip, str) else ip.ip[0]
            address = ipaddress.ip_address(text)
            if address.is_link_local or address.is_multicast:
                continue
            rank = 2 if address.is_loopback else (0 if address.version == 4 else 1)
            name = adapter.nice_name or adapter.name
            found.append((rank, InviteAddress(text, AddressSource.INTERFACE, str(name))))
    found.sort(key=lambda item: item[0])
    return [address for _, address in found]


def invite_choices(listen_host: str, interfaces: Sequence[InviteAddress]) -> list[InviteAddress]:
    """The addresses a server listening on ``listen_host`` can be invited to.

    Listening everywhere: every interface address. Listening on one address:
    that address alone (other interfaces do not answer).
    """
    if is_wildcard(listen_host):
        return list(interfaces) or [InviteAddress("127.0.0.1", AddressSource.INTERFACE, "lo")]
    host = listen_host.strip("[]")
    named = [address for address in interfaces if address.host == host]
    return named or [InviteAddress(host, AddressSource.INTERFACE)]


def preferred_invite_address(choices: Sequence[InviteAddress]) -> InviteAddress:
    """The choice a link starts with: the router's (its port is mapped), else the first
    address others can reach (an interface's, as the link always had), else the first."""
    for address in choices:
        if address.source is AddressSource.ROUTER:
            return address
    for address in choices:
        if address.source is AddressSource.INTERFACE and address.reach is not Reach.THIS_COMPUTER:
            return address
    return choices[0]


def typed_invite_address(text: str) -> InviteAddress:
    """An address the host typed: an IP address or a DNS name (not looked up: it is for
    guests to resolve). :class:`AddressError` for anything else."""
    host = text.strip().strip("[]")
    if not host:
        raise AddressError("Type the address guests should use (an IP address or a name).")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        labels = host.rstrip(".").split(".")
        if not all(_HOST_LABEL.fullmatch(label) for label in labels) or host.isdigit():
            raise AddressError(
                f"{text.strip()!r} is not an IP address or a host name guests could use."
            ) from None
    return InviteAddress(host, AddressSource.CUSTOM)


async def discover_stun_address(stun_url: str) -> InviteAddress:
    """The public address the STUN server at ``stun_url`` sees; ``NetError`` if it is silent."""
    from .net.stun import discover_mapped_address

    mapped = await discover_mapped_address(stun_url)
    return InviteAddress(mapped.address, AddressSource.STUN, stun_url)


def router_invite_address(
    external_address: str, external_port: int | None, via: str
) -> InviteAddress:
    """The address a router that opened the server's port shows the internet."""
    return InviteAddress(external_address, AddressSource.ROUTER, via, port=external_port)
