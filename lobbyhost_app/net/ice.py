"""ICE configuration: which STUN/TURN servers, and which local addresses ICE may use.

Two rules hold everywhere in LobbyHost:

* ICE servers are always explicit. aiortc falls back to a public STUN server
  when given none, so an empty list is passed as an empty list, never omitted.
* Host candidates are gathered only on allowed local addresses when an
  allow-list is set (users exclude VPN adapters with it; tests allow 127.0.0.1
  only). aioice has no interface option and skips 127.0.0.1 on purpose; it
  looks ``aioice.ice.get_host_addresses`` up at call time, so the allow-list
  works by putting a filtering function in its place. That is process-wide,
  so it is an explicit step: whoever owns the process (the app, a CLI, the
  self-test, a test's setup) calls :func:`install_address_allow_list`;
  :meth:`IceSettings.configuration` changes nothing.

The settings themselves are plain values: importing this module loads neither
aiortc nor aioice (the settings dialog and the app's settings use it); they are
imported when a configuration is made or the allow-list installed.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import ifaddr

from signalling_server.protocol import IceServerInfo

from .errors import NetError
from .route_preference import DEFAULT_RELAY_DELAY_S

if TYPE_CHECKING:
    from aiortc import RTCConfiguration

logger = logging.getLogger(__name__)

HostAddresses = Callable[[bool, bool], list[str]]


@dataclass(frozen=True, slots=True, kw_only=True)
class IceServer:
    """One STUN or TURN server (an ``RTCIceServer``)."""

    urls: tuple[str, ...]
    username: str | None = None
    credential: str | None = None

    @classmethod
    def from_info(cls, info: IceServerInfo) -> IceServer:
        """From an ICE server the signalling server sent."""
        return cls(urls=tuple(info.urls), username=info.username, credential=info.credential)


@dataclass(frozen=True, slots=True, kw_only=True)
class IceSettings:
    """The user's own ICE servers and local-address allow-list."""

    servers: tuple[IceServer, ...] = ()
    #: Local addresses ICE may gather host candidates on; empty means every
    #: address but loopback (aioice's default). Takes effect once installed
    #: with :func:`install_address_allow_list`.
    allowed_addresses: tuple[str, ...] = ()
    #: Seconds relayed (TURN) candidate pairs wait before being checked, so a
    #: direct route wins when there is one (:mod:`.route_preference`).
    relay_delay_s: float = DEFAULT_RELAY_DELAY_S

    def __post_init__(self) -> None:
        if not 0 <= self.relay_delay_s <= 30:
            raise NetError(f"a relay delay of {self.relay_delay_s} s is not within 0-30 s")
        for address in self.allowed_addresses:
            try:
                ipaddress.ip_address(address)
            except ValueError as exc:
                raise NetError(f"{address!r} is not an IP address") from exc

    def merged_servers(self, from_server: Iterable[IceServerInfo]) -> list[IceServer]:
        """The signalling server's ICE servers, then the user's own; no duplicates."""
        merged: list[IceServer] = []
        for server in (*map(IceServer.from_info, from_server), *self.servers):
            if server not in merged:
                merged.append(server)
        return merged

    def configuration(self, from_server: Iterable[IceServerInfo] = ()) -> RTCConfiguration:
        """Explicit servers, never aiortc's public STUN fallback, no side effect."""
        from aiortc import RTCConfiguration, RTCIceServer

        servers = [
            RTCIceServer(urls=list(s.urls), username=s.username, credential=s.credential)
            for s in self.merged_servers(from_server)
        ]
        return RTCConfiguration(iceServers=servers)


# The allow-list, process-wide -------------------------------------------------------------


@dataclass(slots=True)
class _AllowList:
    addresses: tuple[str, ...] = ()
    original: HostAddresses | None = None


_allow_list = _AllowList()


def install_address_allow_list(addresses: Sequence[str]) -> tuple[str, ...]:
    """Gather host candidates only on ``addresses`` from now on, in this whole process.

    Empty restores aioice's default (every address but loopback). Returns the
    list that was in force, so a caller that installs for a while can put it back;
    raises :class:`NetError` for an address that is not an IP address.
    """
    IceSettings(allowed_addresses=tuple(addresses))  # NetError before anything changes
    import aioice.ice

    previous = _allow_list.addresses
    if _allow_list.original is None:
        _allow_list.original = aioice.ice.get_host_addresses
        aioice.ice.get_host_addresses = _filtered_host_addresses
    _allow_list.addresses = tuple(addresses)
    if _allow_list.addresses != previous:
        logger.info("ICE gathers on %s", ", ".join(addresses) or "every address but loopback")
    return previous


def installed_address_allow_list() -> tuple[str, ...]:
    """The allow-list in force (empty: aioice's default)."""
    return _allow_list.addresses


@contextlib.contextmanager
def address_allow_list(addresses: Sequence[str]) -> Iterator[None]:
    """Install ``addresses`` for the ``with`` block, then put back what was there."""
    previous = install_address_allow_list(addresses)
    try:
        yield
    finally:
        install_address_allow_list(previous)


def _filtered_host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    original = _allow_list.original
    assert original is not None  # installed before it can be called
    if not _allow_list.addresses:
        return original(use_ipv4, use_ipv6)
    present = set(local_addresses())
    out = []
    for address in _allow_list.addresses:
        version = ipaddress.ip_address(address).version
        if address in present and ((version == 4 and use_ipv4) or (version == 6 and use_ipv6)):
            out.append(address)
    return out


def local_addresses() -> list[str]:
    """Every IP address on this machine's interfaces, loopback included."""
    addresses = []
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            addresses.append(ip.ip if isinstance(ip.ip, str) else ip.ip[0])
    return addresses
