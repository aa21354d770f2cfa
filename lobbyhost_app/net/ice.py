"""ICE configuration: which STUN/TURN servers, and which local addresses ICE may use.

Two rules hold everywhere in LobbyHost:

* ICE servers are always explicit. aiortc falls back to a public STUN server
  when given none, so an empty list is passed as an empty list, never omitted.
* Host candidates are gathered only on allowed local addresses when an
  allow-list is set (users exclude VPN adapters with it; tests allow 127.0.0.1
  only). aioice has no interface option and skips 127.0.0.1 on purpose; it
  looks ``aioice.ice.get_host_addresses`` up at call time, so the allow-list is
  applied by putting a filtering function in its place, process-wide.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import aioice.ice
import ifaddr
from aiortc import RTCConfiguration, RTCIceServer

from .errors import NetError

_original_get_host_addresses: Callable[[bool, bool], list[str]] = aioice.ice.get_host_addresses
_allowed: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class IceServer:
    """One STUN or TURN server (an ``RTCIceServer``)."""

    urls: tuple[str, ...]
    username: str | None = None
    credential: str | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> IceServer:
        """From the ``{urls, username?, credential?}`` dicts the signalling server sends."""
        urls = data.get("urls")
        if isinstance(urls, str):
            urls = [urls]
        if not isinstance(urls, list) or not all(isinstance(url, str) for url in urls):
            raise NetError(f"the server sent an ICE server without valid urls: {data!r}")
        return cls(
            urls=tuple(urls), username=data.get("username"), credential=data.get("credential")
        )

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"urls": list(self.urls)}
        if self.username is not None:
            out["username"] = self.username
        if self.credential is not None:
            out["credential"] = self.credential
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class IceSettings:
    """The user's own ICE servers and local-address allow-list."""

    servers: tuple[IceServer, ...] = ()
    #: Local addresses ICE may gather host candidates on; empty means every
    #: address but loopback (aioice's default).
    allowed_addresses: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for address in self.allowed_addresses:
            try:
                ipaddress.ip_address(address)
            except ValueError as exc:
                raise NetError(f"{address!r} is not an IP address") from exc

    def merged_servers(self, from_server: Iterable[dict[str, Any]]) -> list[IceServer]:
        """The signalling server's ICE servers, then the user's own; no duplicates."""
        merged: list[IceServer] = []
        for server in (*map(IceServer.from_dict, from_server), *self.servers):
            if server not in merged:
                merged.append(server)
        return merged

    def configuration(self, from_server: Iterable[dict[str, Any]] = ()) -> RTCConfiguration:
        """An explicit ``RTCConfiguration`` (never aiortc's public STUN fallback)."""
        apply_address_allow_list(self.allowed_addresses)
        servers = [
            RTCIceServer(urls=list(s.urls), username=s.username, credential=s.credential)
            for s in self.merged_servers(from_server)
        ]
        return RTCConfiguration(iceServers=servers)


def apply_address_allow_list(allowed: Sequence[str]) -> None:
    """Gather host candidates only on ``allowed`` addresses (empty: aioice's default)."""
    global _allowed
    _allowed = tuple(allowed)
    aioice.ice.get_host_addresses = _filtered_host_addresses


def _filtered_host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    if not _allowed:
        return _original_get_host_addresses(use_ipv4, use_ipv6)
    present = set(local_addresses())
    out = []
    for address in _allowed:
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
