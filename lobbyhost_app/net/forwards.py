"""Shared game ports as values: ``25565/tcp=Minecraft``, the ``ports`` message, channel labels.

A side of a peer link *shares* a port (its game server listens there); the
other side opens a local listener for it and the game bridge (:mod:`.bridge`)
carries the traffic over the link. This module holds what both sides agree
on, with no I/O:

* :class:`SharedPort`, parsed from ``PORT/PROTO[=LABEL]`` (:func:`parse_shared_port`);
* the ``lobby`` channel message listing a side's shared ports,
  ``{"type":"ports","ports":[{"port":25565,"proto":"tcp","label":"Minecraft"}, ...]}``
  (:func:`ports_message`, :func:`parse_ports`: lenient, entries that are not ports are left out);
* the data channel labels: ``fwd/tcp/<port>`` (one reliable, ordered channel
  per TCP connection) and ``fwd/udp/<port>`` (one unordered, no-retransmit
  channel per UDP port), parsed back by :func:`parse_channel_label`.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from .errors import NetError

#: Ports one side may share; a longer list from the other side is cut.
MAX_SHARED_PORTS: Final = 32
MAX_LABEL_LENGTH: Final = 40
#: Every bridge channel's label starts with this.
CHANNEL_PREFIX: Final = "fwd/"


class ForwardSpecError(NetError, ValueError):
    """A port forward written in a way that cannot be used (``--forward``, ``--forward-port``)."""


class Transport(enum.StrEnum):
    """The transport protocol of a shared port."""

    TCP = "tcp"
    UDP = "udp"


@dataclass(frozen=True, slots=True)
class SharedPort:
    """A port a side shares: its game server listens on ``port`` over ``transport``."""

    port: int
    transport: Transport
    label: str = ""

    @property
    def key(self) -> tuple[Transport, int]:
        """What identifies it: a label does not make another port."""
        return self.transport, self.port

    def __str__(self) -> str:
        spec = f"{self.port}/{self.transport.value}"
        return f"{spec}={self.label}" if self.label else spec


@dataclass(slots=True)
class PortTraffic:
    """Bytes through one forwarded port: ``bytes_in`` from the other side, ``bytes_out`` to it."""

    bytes_in: int = 0
    bytes_out: int = 0
    #: TCP connections open now (UDP: always 0).
    connections: int = 0

    def count(self, bytes_in: int, bytes_out: int) -> None:
        self.bytes_in += bytes_in
        self.bytes_out += bytes_out


@dataclass(frozen=True, slots=True)
class Forward:
    """A local listener for a port the other side shares: give the game ``address``."""

    shared: SharedPort
    local_host: str
    local_port: int

    @property
    def address(self) -> str:
        return f"{self.local_host}:{self.local_port}"


def parse_shared_port(text: str) -> SharedPort:
    """``25565/tcp=Minecraft`` (label optional) as a :class:`SharedPort`.

    Raises :class:`ForwardSpecError` saying what is wrong.
    """
    spec, _, label = text.strip().partition("=")
    port_text, slash, proto = spec.strip().partition("/")
    if not slash:
        raise ForwardSpecError(f"{text!r}: write PORT/tcp or PORT/udp, e.g. 25565/tcp=Minecraft")
    try:
        transport = Transport(proto.strip().lower())
    except ValueError:
        raise ForwardSpecError(f"{text!r}: the protocol must be tcp or udp") from None
    return SharedPort(_port(port_text, text), transport, clean_label(label))


def parse_local_port(text: str) -> tuple[int, int]:
    """``HOSTPORT=LOCALPORT`` (``--forward-port``) as two port numbers."""
    remote, equals, local = text.partition("=")
    if not equals:
        raise ForwardSpecError(f"{text!r}: write HOSTPORT=LOCALPORT, e.g. 25565=25566")
    return _port(remote, text), _port(local, text)


def clean_label(label: str) -> str:
    """A label as shown: printable, one line, at most :data:`MAX_LABEL_LENGTH` characters."""
    words = " ".join(label.split())  # line breaks and tabs become spaces
    return "".join(ch for ch in words if ch.isprintable())[:MAX_LABEL_LENGTH]


def _port(text: str, whole: str) -> int:
    try:
        port = int(text.strip())
    except ValueError:
        raise ForwardSpecError(f"{whole!r}: {text.strip()!r} is not a port number") from None
    if not 0 < port <= 0xFFFF:
        raise ForwardSpecError(f"{whole!r}: a port is a number from 1 to 65535")
    return port


def unique_ports(ports: Iterable[SharedPort]) -> tuple[SharedPort, ...]:
    """``ports`` without a second entry for the same port and protocol (the first one wins)."""
    seen: dict[tuple[Transport, int], SharedPort] = {}
    for port in ports:
        seen.setdefault(port.key, port)
    return tuple(seen.values())


def ports_message(ports: Iterable[SharedPort]) -> dict[str, Any]:
    """The ``lobby`` channel message that lists the ports this side shares."""
    listed = [{"port": p.port, "proto": p.transport.value, "label": p.label} for p in ports]
    return {"type": "ports", "ports": listed}


def parse_ports(value: object) -> tuple[SharedPort, ...]:
    """The ports a ``ports`` message lists (untrusted): entries that are not ports are left out."""
    if not isinstance(value, list):
        return ()
    ports = []
    for entry in value:
        if not isinstance(entry, dict):
            continue
        port, proto, label = entry.get("port"), entry.get("proto"), entry.get("label", "")
        if not isinstance(port, int) or isinstance(port, bool) or not 0 < port <= 0xFFFF:
            continue
        if proto not in ("tcp", "udp") or not isinstance(label, str):
            continue
        ports.append(SharedPort(port, Transport(proto), clean_label(label)))
    return unique_ports(ports)[:MAX_SHARED_PORTS]


def channel_label(transport: Transport, port: int) -> str:
    """The label of a bridge channel to ``port``: ``fwd/tcp/25565``, ``fwd/udp/27960``."""
    return f"{CHANNEL_PREFIX}{transport.value}/{port}"


def parse_channel_label(label: str) -> tuple[Transport, int] | None:
    """What a bridge channel's label names, or ``None`` if it is not a well-formed one."""
    parts = label.split("/")
    if len(parts) != 3 or f"{parts[0]}/" != CHANNEL_PREFIX:
        return None
    proto, port_text = parts[1], parts[2]
    if proto not in ("tcp", "udp") or not (port_text.isascii() and port_text.isdigit()):
        return None
    if port_text != str(int(port_text)):  # no leading zeros: one label per port
        return None
    port = int(port_text)
    if not 0 < port <= 0xFFFF:
        return None
    return Transport(proto), port


__all__ = [
    "CHANNEL_PREFIX",
    "MAX_SHARED_PORTS",
    "Forward",
    "ForwardSpecError",
    "PortTraffic",
    "SharedPort",
    "Transport",
    "channel_label",
    "clean_label",
    "parse_channel_label",
    "parse_local_port",
    "parse_ports",
    "parse_shared_port",
    "ports_message",
    "unique_ports",
]
