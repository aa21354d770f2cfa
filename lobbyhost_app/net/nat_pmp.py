"""NAT-PMP (RFC 6886): port mapping on routers that do not speak UPnP (Apple's, many others').

Two parts, as elsewhere: a sans-I/O codec (:func:`external_address_request`,
:func:`mapping_request`, :func:`parse_response`: bytes in, typed values or
:class:`NatPmpError` out) and :class:`NatPmpRouter`, which sends those
datagrams to the default gateway's port 5351 with RFC 6886's retransmissions
(250 ms, doubling) and implements :class:`~.port_mapping.Router`.

No well-kept Python client exists (the ``nat-pmp`` package was last released
in 2021), and the protocol is two 12-byte messages, so it is written here.
The gateway is read from the system's routing table; that is done for Linux
(``/proc/net/route``) only: elsewhere :func:`default_gateway` finds none and
the port mapper goes on without NAT-PMP.
"""

from __future__ import annotations

import asyncio
import enum
import ipaddress
import socket
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from .errors import NetError
from .port_mapping import NoRouterFound, PortMappingOptions, RouterRefused

PORT: Final = 5351
_VERSION: Final = 0
_OP_EXTERNAL_ADDRESS: Final = 0
_OP_MAP: Final = {"UDP": 1, "TCP": 2}
#: A response's opcode is the request's plus 128.
_RESPONSE: Final = 128
#: RFC 6886 section 3.1: first retry after 250 ms, then twice as long each time.
FIRST_RETRY_S: Final = 0.25
_ROUTE_TABLE: Final = Path("/proc/net/route")


class NatPmpError(NetError):
    """A datagram that is not the NAT-PMP response that was asked for."""


class ResultCode(enum.IntEnum):
    """A NAT-PMP response's result (RFC 6886 section 3.5)."""

    SUCCESS = 0
    UNSUPPORTED_VERSION = 1
    NOT_AUTHORIZED = 2
    NETWORK_FAILURE = 3
    OUT_OF_RESOURCES = 4
    UNSUPPORTED_OPCODE = 5

    @property
    def words(self) -> str:
        return {
            ResultCode.SUCCESS: "Success",
            ResultCode.UNSUPPORTED_VERSION: "Unsupported Version",
            ResultCode.NOT_AUTHORIZED: "Not Authorized/Refused (port mapping is switched off)",
            ResultCode.NETWORK_FAILURE: "Network Failure (the router has no usable public address)",
            ResultCode.OUT_OF_RESOURCES: "Out of resources",
            ResultCode.UNSUPPORTED_OPCODE: "Unsupported opcode",
        }[self]


@dataclass(frozen=True, slots=True)
class ExternalAddress:
    """The router's answer to an external address request."""

    result: ResultCode | int
    address: str


@dataclass(frozen=True, slots=True)
class Mapping:
    """The router's answer to a mapping request."""

    result: ResultCode | int
    internal_port: int
    external_port: int
    lifetime_s: int


# The codec ------------------------------------------------------------------------------


def external_address_request() -> bytes:
    return struct.pack("!BB", _VERSION, _OP_EXTERNAL_ADDRESS)


def mapping_request(
    protocol: str, internal_port: int, external_port: int, lifetime_s: int
) -> bytes:
    """Map (lifetime > 0) or remove (lifetime 0) ``protocol`` ``internal_port``."""
    opcode = _OP_MAP.get(protocol.upper())
    if opcode is None:
        raise ValueError(f"NAT-PMP maps TCP or UDP, not {protocol!r}")
    return struct.pack("!BBHHHI", _VERSION, opcode, 0, internal_port, external_port, lifetime_s)


def parse_response(data: bytes, request: bytes) -> ExternalAddress | Mapping:
    """The router's response to ``request``; :class:`NatPmpError` for anything else."""
    if len(data) < 8:
        raise NatPmpError(f"a NAT-PMP response of {len(data)} bytes is too short")
    version, opcode, result = struct.unpack_from("!BBH", data)
    if version != _VERSION or opcode != request[1] + _RESPONSE:
        raise NatPmpError(f"not the response asked for (version {version}, opcode {opcode})")
    code: ResultCode | int
    try:
        code = ResultCode(result)
    except ValueError:  # a code from a newer RFC: kept as the number
        code = result
    if request[1] == _OP_EXTERNAL_ADDRESS:
        if len(data) < 12:
            raise NatPmpError("an external address response without the address")
        return ExternalAddress(code, socket.inet_ntoa(data[8:12]))
    if len(data) < 16:
        raise NatPmpError("a mapping response without its ports and lifetime")
    internal_port, external_port, lifetime_s = struct.unpack_from("!HHI", data, 8)
    if internal_port != struct.unpack_from("!H", request, 4)[0]:
        raise NatPmpError(f"a mapping response for another port ({internal_port})")
    return Mapping(code, internal_port, external_port, lifetime_s)


def result_words(result: ResultCode | int) -> str:
    return result.words if isinstance(result, ResultCode) else f"result code {result}"


# The gateway -----------------------------------------------------------------------------


def default_gateway(route_table: Path = _ROUTE_TABLE) -> str | None:
    """The IPv4 default gateway from Linux's routing table (``None`` if none, or not Linux)."""
    try:
        lines = route_table.read_text().splitlines()[1:]
    except OSError:
        return None
    for line in lines:
        fields = line.split()
        if len(fields) < 4 or fields[1] != "00000000":
            continue
        flags = int(fields[3], 16)
        if not flags & 0x2:  # RTF_GATEWAY: a route through a router, not on-link
            continue
        return str(ipaddress.IPv4Address(struct.pack("<I", int(fields[2], 16))))
    return None


# I/O ---------------------------------------------------------------------------------------


class _Exchange(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.responses: asyncio.Queue[bytes] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        self.responses.put_nowait(data)


class NatPmpRouter:
    """The default gateway, spoken to with NAT-PMP."""

    def __init__(self, gateway: str, *, answer_within_s: float = 2.0) -> None:
        self.gateway = gateway
        self.answer_within_s = answer_within_s
        self._lock = asyncio.Lock()  # one request at a time, as RFC 6886 asks
        #: Internal port by external port, for removal (which names the internal port).
        self._mapped: dict[tuple[str, int], int] = {}

    @classmethod
    async def find(cls, options: PortMappingOptions) -> NatPmpRouter:
        """The gateway, if it answers NAT-PMP in time; :class:`NoRouterFound` otherwise."""
        gateway = default_gateway()
        if gateway is None:
            raise NoRouterFound("no default gateway to ask with NAT-PMP")
        router = cls(gateway, answer_within_s=options.discover_timeout_s)
        try:
            await router.ask(external_address_request())
        except TimeoutError as exc:
            raise NoRouterFound(f"{gateway} did not answer NAT-PMP") from exc
        return router

    async def ask(self, request: bytes) -> ExternalAddress | Mapping:
        """Send ``request``, retrying at 250 ms, 500 ms, ...; ``TimeoutError`` without an answer."""
        loop = asyncio.get_running_loop()
        async with self._lock:
            transport, exchange = await loop.create_datagram_endpoint(
                _Exchange, remote_addr=(self.gateway, PORT)
            )
            try:
                async with asyncio.timeout(self.answer_within_s):
                    wait_s = FIRST_RETRY_S
                    while True:
                        transport.sendto(request)
                        try:
                            async with asyncio.timeout(wait_s):
                                while True:
                                    try:
                                        return parse_response(
                                            await exchange.responses.get(), request
                                        )
                                    except NatPmpError:
                                        continue  # not ours: keep listening
                        except TimeoutError:
                            wait_s *= 2
            finally:
                transport.close()

    async def _checked(self, request: bytes) -> ExternalAddress | Mapping:
        try:
            response = await self.ask(request)
        except TimeoutError as exc:
            raise RouterRefused(f"{self.gateway} stopped answering NAT-PMP") from exc
        if response.result != ResultCode.SUCCESS:
            raise RouterRefused(result_words(response.result))
        return response

    async def add(
        self,
        *,
        external_port: int,
        internal_port: int,
        protocol: str,
        description: str,
        lease_s: int,
    ) -> int:
        """Map ``internal_port``, asking for ``external_port``; the port the router chose."""
        request = mapping_request(protocol, internal_port, external_port, lease_s)
        response = await self._checked(request)
        assert isinstance(response, Mapping)
        self._mapped[protocol.upper(), response.external_port] = internal_port
        return response.external_port

    async def remove(self, *, external_port: int, protocol: str) -> None:
        # RFC 6886 section 3.4: lifetime 0 for the internal port removes its mapping.
        internal_port = self._mapped.pop((protocol.upper(), external_port), external_port)
        await self._checked(mapping_request(protocol, internal_port, 0, 0))

    async def external_address(self) -> str:
        response = await self._checked(external_address_request())
        assert isinstance(response, ExternalAddress)
        return response.address


__all__ = [
    "ExternalAddress",
    "Mapping",
    "NatPmpError",
    "NatPmpRouter",
    "ResultCode",
    "default_gateway",
    "external_address_request",
    "mapping_request",
    "parse_response",
]
