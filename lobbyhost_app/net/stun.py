"""The address the internet sees: a STUN binding request (RFC 8489) to a STUN server.

Messages, parsing and retransmission come from aioice (already under aiortc):
:class:`aioice.stun.Transaction` resends with RFC 8489's doubling timer. This
module only opens the UDP socket, matches the answer to the request, and reads
its XOR-MAPPED-ADDRESS.

Behind a NAT the answer is the router's public address; the port in it is the
NAT's mapping for this one UDP socket, not the signalling server's port, which
still has to be forwarded (or mapped) for an invite link to work from outside.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import unquote

from aioice import stun

from .errors import NetError

logger = logging.getLogger(__name__)

#: The port of a ``stun:`` URL that names none (RFC 7064).
DEFAULT_STUN_PORT = 3478


@dataclass(frozen=True, slots=True)
class MappedAddress:
    """This machine's address and port as a STUN server saw them."""

    address: str
    port: int


def stun_host_port(url: str) -> tuple[str, int]:
    """``(host, port)`` of a ``stun:host[:port]`` URL; :class:`NetError` for anything else."""
    scheme, colon, rest = url.strip().partition(":")
    if not colon or scheme.lower() != "stun":
        raise NetError(f"{url!r} is not a STUN URL (stun:host:port)")
    rest = rest.lstrip("/").split("?", 1)[0]
    if rest.startswith("["):
        host, _, after = rest[1:].partition("]")
        port_text = after.removeprefix(":")
    else:
        host, _, port_text = rest.rpartition(":") if rest.count(":") == 1 else (rest, "", "")
    host = unquote(host)
    if not host:
        raise NetError(f"{url!r} names no STUN server")
    if not port_text:
        return host, DEFAULT_STUN_PORT
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise NetError(f"{url!r} has a port that is not a number from 1 to 65535")
    return host, int(port_text)


class _BindingClient(asyncio.DatagramProtocol):
    """One UDP socket that sends STUN requests and hands answers to their transaction."""

    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.transactions: dict[bytes, stun.Transaction] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A datagram endpoint's transport (not a DatagramTransport subclass on 3.11).
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        try:
            message = stun.parse_message(data)
        except ValueError:
            return  # not STUN: whoever sent it is ignored
        transaction = self.transactions.get(message.transaction_id)
        if transaction is not None:
            transaction.response_received(message, addr)

    def send_stun(self, message: stun.Message, addr: tuple[str, int]) -> None:
        if self.transport is not None:
            self.transport.sendto(bytes(message), addr)


async def discover_mapped_address(url: str, *, within: float = 5.0) -> MappedAddress:
    """Ask the STUN server at ``url`` which address and port it sees this machine at.

    Raises :class:`NetError` when the URL is not a STUN URL, the name does not
    resolve, or no answer comes within ``within`` seconds.
    """
    host, port = stun_host_port(url)
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
    except OSError as exc:
        raise NetError(f"the STUN server name {host!r} could not be found") from exc
    family, _, _, _, server = infos[0]
    transport, client = await loop.create_datagram_endpoint(
        _BindingClient, local_addr=("::" if family == socket.AF_INET6 else "0.0.0.0", 0)
    )
    request = stun.Message(message_method=stun.Method.BINDING, message_class=stun.Class.REQUEST)
    transaction = stun.Transaction(request, (str(server[0]), int(server[1])), client)
    client.transactions[request.transaction_id] = transaction
    try:
        async with asyncio.timeout(within):
            response, _ = await transaction.run()
    except (TimeoutError, stun.TransactionTimeout) as exc:
        raise NetError(f"the STUN server at {url} did not answer") from exc
    except stun.TransactionFailed as exc:
        raise NetError(f"the STUN server at {url} refused the request") from exc
    finally:
        transport.close()
    mapped = response.attributes.get("XOR-MAPPED-ADDRESS") or response.attributes.get(
        "MAPPED-ADDRESS"
    )
    if not mapped:
        raise NetError(f"the STUN server at {url} answered without an address")
    address, mapped_port = mapped
    logger.info("STUN server %s sees this machine at %s:%s", url, address, mapped_port)
    return MappedAddress(str(address), int(mapped_port))
