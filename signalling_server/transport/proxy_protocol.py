"""The PROXY protocol header (HAProxy's v1 text and v2 binary forms), parsed strictly, sans I/O.

A TCP load balancer that does not speak HTTP (HAProxy in TCP mode, AWS NLB,
a TLS terminator) cannot add ``X-Forwarded-For``; it writes the client's
address in a header before the first byte of the client's own stream
(https://www.haproxy.org/download/2.9/doc/proxy-protocol.txt). The server
reads it only from trusted proxies, and only when told to (``proxy_protocol``).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Final

V2_SIGNATURE: Final = b"\r\n\r\n\x00\r\nQUIT\n"
V1_PREFIX: Final = b"PROXY "
#: The longest v1 line, CRLF included (the specification's bound).
V1_MAX_BYTES: Final = 107
#: The longest v2 header this server takes (addresses plus a few TLVs).
V2_MAX_BYTES: Final = 16 + 536

_V2_HEADER_BYTES: Final = 16
_V2_LOCAL, _V2_PROXY = 0x20, 0x21
_V2_TCP4, _V2_TCP6 = 0x11, 0x21


class ProxyHeaderError(ValueError):
    """The bytes are not a valid PROXY protocol header."""


@dataclass(frozen=True, slots=True)
class ProxyHeader:
    """A parsed header: the client's address (``None`` for LOCAL or UNKNOWN) and its length."""

    source: str | None
    length: int


def parse_proxy_header(data: bytes) -> ProxyHeader | None:
    """The header at the start of ``data``; ``None`` until enough bytes are in.

    Raises :class:`ProxyHeaderError` as soon as the bytes cannot start a header.
    """
    if data[:1] == b"\r":
        return _parse_v2(data)
    if data[:1] == b"P":
        return _parse_v1(data)
    if data:
        raise ProxyHeaderError("the connection does not start with a PROXY protocol header")
    return None


def _parse_v1(data: bytes) -> ProxyHeader | None:
    if not V1_PREFIX.startswith(data[: len(V1_PREFIX)]):
        raise ProxyHeaderError("not a PROXY protocol v1 header")
    end = data.find(b"\r\n", 0, V1_MAX_BYTES)
    if end < 0:
        if len(data) >= V1_MAX_BYTES:
            raise ProxyHeaderError("PROXY protocol v1 line longer than 107 bytes")
        return None
    fields = data[:end].decode("ascii", errors="replace").split(" ")
    length = end + 2
    if fields[1:2] == ["UNKNOWN"]:
        return ProxyHeader(None, length)
    if len(fields) != 6 or fields[1] not in ("TCP4", "TCP6"):
        raise ProxyHeaderError("malformed PROXY protocol v1 line")
    _, family, source, destination, source_port, destination_port = fields
    try:
        ip = ipaddress.ip_address(source)
        ipaddress.ip_address(destination)
    except ValueError as exc:
        raise ProxyHeaderError("PROXY protocol v1 line with a bad address") from exc
    if (ip.version == 4) != (family == "TCP4") or not all(
        _port(port) for port in (source_port, destination_port)
    ):
        raise ProxyHeaderError("malformed PROXY protocol v1 line")
    return ProxyHeader(str(ip), length)


def _port(text: str) -> bool:
    return text.isdigit() and len(text) <= 5 and int(text) <= 65535 and text == str(int(text))


def _parse_v2(data: bytes) -> ProxyHeader | None:
    if not V2_SIGNATURE.startswith(data[: len(V2_SIGNATURE)]):
        raise ProxyHeaderError("not a PROXY protocol v2 header")
    if len(data) < _V2_HEADER_BYTES:
        return None
    command, family = data[12], data[13]
    length = _V2_HEADER_BYTES + int.from_bytes(data[14:16], "big")
    if command not in (_V2_LOCAL, _V2_PROXY):
        raise ProxyHeaderError("PROXY protocol v2 header with an unknown version or command")
    if length > V2_MAX_BYTES:
        raise ProxyHeaderError("PROXY protocol v2 header too long")
    if len(data) < length:
        return None
    body = data[_V2_HEADER_BYTES:length]
    if command == _V2_LOCAL:
        return ProxyHeader(None, length)  # the proxy's own connection (a health check)
    if family == _V2_TCP4 and len(body) >= 12:
        return ProxyHeader(str(ipaddress.IPv4Address(body[:4])), length)
    if family == _V2_TCP6 and len(body) >= 36:
        address = ipaddress.IPv6Address(body[:16])
        mapped = address.ipv4_mapped
        return ProxyHeader(str(mapped if mapped is not None else address), length)
    if family in (_V2_TCP4, _V2_TCP6):
        raise ProxyHeaderError("PROXY protocol v2 address block too short")
    return ProxyHeader(None, length)  # UNSPEC, UDP or Unix: nothing this server can use


__all__ = [
    "V1_MAX_BYTES",
    "V2_MAX_BYTES",
    "V2_SIGNATURE",
    "ProxyHeader",
    "ProxyHeaderError",
    "parse_proxy_header",
]
