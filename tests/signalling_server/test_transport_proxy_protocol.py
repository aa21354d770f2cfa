"""The PROXY protocol header parser: v1 text, v2 binary, strict and incremental (pure)."""

from __future__ import annotations

import ipaddress

import pytest

from signalling_server.transport.proxy_protocol import (
    V2_SIGNATURE,
    ProxyHeader,
    ProxyHeaderError,
    parse_proxy_header,
)


def v2(command: int, family: int, body: bytes) -> bytes:
    """A v2 header: signature, version and command, family, length, body."""
    return V2_SIGNATURE + bytes([command, family]) + len(body).to_bytes(2, "big") + body


def v2_tcp4(source: str, destination: str = "198.51.100.1", tlvs: bytes = b"") -> bytes:
    body = ipaddress.IPv4Address(source).packed + ipaddress.IPv4Address(destination).packed
    return v2(0x21, 0x11, body + (5555).to_bytes(2, "big") + (443).to_bytes(2, "big") + tlvs)


def v2_tcp6(source: str, destination: str = "2001:db8::443") -> bytes:
    body = ipaddress.IPv6Address(source).packed + ipaddress.IPv6Address(destination).packed
    return v2(0x21, 0x21, body + (5555).to_bytes(2, "big") + (443).to_bytes(2, "big"))


@pytest.mark.parametrize(
    ("data", "header"),
    [
        (b"PROXY TCP4 203.0.113.7 198.51.100.1 5555 443\r\nGET", ProxyHeader("203.0.113.7", 46)),
        (
            b"PROXY TCP6 2001:db8:1:2::a 2001:db8::1 5555 443\r\n",
            ProxyHeader("2001:db8:1:2::a", 49),
        ),
        (b"PROXY UNKNOWN\r\n", ProxyHeader(None, 15)),
        (b"PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n", ProxyHeader(None, 35)),
        (v2_tcp4("203.0.113.7") + b"GET", ProxyHeader("203.0.113.7", 28)),
        (v2_tcp4("203.0.113.7", tlvs=b"\x04\x00\x01x"), ProxyHeader("203.0.113.7", 32)),
        (v2_tcp6("2001:db8:1:2::a"), ProxyHeader("2001:db8:1:2::a", 52)),
        (v2_tcp6("::ffff:203.0.113.7"), ProxyHeader("203.0.113.7", 52)),
        (v2(0x20, 0x00, b""), ProxyHeader(None, 16)),  # LOCAL: the proxy's health check
        (v2(0x21, 0x31, b"\x00" * 216), ProxyHeader(None, 232)),  # a Unix socket: no address
    ],
)
def test_valid_headers_name_the_client_and_their_length(data: bytes, header: ProxyHeader) -> None:
    """v1 and v2 headers give the source address (none for LOCAL/UNKNOWN) and where HTTP starts."""
    assert parse_proxy_header(data) == header


@pytest.mark.parametrize(
    "data",
    [
        b"PROXY TCP4 203.0.113.7 198.51.100.1 5555 443\r\n",
        v2_tcp4("203.0.113.7"),
        v2_tcp6("2001:db8::7"),
    ],
)
def test_a_header_in_pieces_waits_for_its_last_byte(data: bytes) -> None:
    """Until the whole header is in, the parser asks for more instead of failing."""
    for end in range(len(data)):
        assert parse_proxy_header(data[:end]) is None
    assert parse_proxy_header(data) is not None


@pytest.mark.parametrize(
    "data",
    [
        b"GET / HTTP/1.1\r\n",
        b"PROXI TCP4",
        b"PROXY TCP4 203.0.113.7 198.51.100.1 5555\r\n",
        b"PROXY TCP4 2001:db8::1 198.51.100.1 5555 443\r\n",
        b"PROXY TCP4 203.0.113.999 198.51.100.1 5555 443\r\n",
        b"PROXY TCP4 203.0.113.7 198.51.100.1 5555 65536\r\n",
        b"PROXY TCP4 203.0.113.7 198.51.100.1 +555 443\r\n",
        b"PROXY TCP4 " + b"1" * 120,
        b"\r\n\r\n\x00\r\nQUIX\n",
        v2(0x22, 0x11, b""),  # an unknown command
        v2(0x11, 0x11, b""),  # version 1 in the binary form
        v2(0x21, 0x11, b"\x00" * 8),  # an IPv4 block too short
        V2_SIGNATURE + b"\x21\x11\x10\x00",  # 4 KiB announced
    ],
)
def test_anything_else_is_a_typed_error(data: bytes) -> None:
    """A stream that cannot start with a valid header is refused as soon as that is clear."""
    with pytest.raises(ProxyHeaderError):
        parse_proxy_header(data)
