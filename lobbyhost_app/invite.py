"""Addresses a person types or shares: invite links and signalling server URLs.

Qt-free so the desktop app, the headless host and the tests share it. An
invite link is ``http://<address>:<port>/join/<code>``: the signalling server
serves the browser guest page there, and the desktop app's Join mode accepts
the same link pasted whole.
"""

from __future__ import annotations

import io
import ipaddress
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

import segno

from .errors import LobbyHostError

_WILDCARDS = frozenset({"", "0.0.0.0", "::", "*"})

#: The port LobbyHost's signalling server listens on unless told otherwise.
DEFAULT_PORT = 8765

#: One label of a host name (RFC 1123): letters, digits and inner hyphens.
_HOST_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")


class AddressError(LobbyHostError):
    """Something typed as a server address or invite link is not one."""


@dataclass(frozen=True, slots=True)
class JoinTarget:
    """Where to join: the server's websocket URL and, if the text held one, the code."""

    server_url: str
    code: str | None = None


def lan_address(addresses: Iterable[str]) -> str:
    """The first non-loopback, non-link-local IPv4 address, else ``127.0.0.1``."""
    for text in addresses:
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            continue
        if address.version == 4 and not (address.is_loopback or address.is_link_local):
            return text
    return "127.0.0.1"


def is_wildcard(host: str) -> bool:
    """Whether a listen address means every interface."""
    return host.strip("[]") in _WILDCARDS


def local_connect_host(listen_host: str) -> str:
    """The address this machine uses to reach its own embedded server."""
    host = listen_host.strip("[]")
    if host == "::":
        return "::1"
    return "127.0.0.1" if is_wildcard(host) else host


def host_port(host: str, port: int) -> str:
    """``host:port``, with brackets around an IPv6 address."""
    host = host.strip("[]")
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def reachable_hosts(listen_host: str, lan: Iterable[str]) -> list[str]:
    """The addresses others can use to reach a server listening on ``listen_host``.

    A wildcard listener is reached at this machine's LAN addresses (IPv4, not
    loopback or link-local, the invite link's first); none means only this
    machine, at ``127.0.0.1``. Any other listen address is the only one.
    """
    if not is_wildcard(listen_host):
        return [listen_host.strip("[]")]
    hosts = []
    for text in lan:
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            continue
        if address.version == 4 and not (address.is_loopback or address.is_link_local):
            hosts.append(text)
    return hosts or ["127.0.0.1"]


def listening_sentence(listen_host: str, port: int, lan: Iterable[str]) -> str:
    """Where a server listening on ``listen_host:port`` can be reached, for the host's log.

    Never ``0.0.0.0``, which nobody can connect to: the addresses people can
    use instead, this machine's LAN addresses (the invite link's first).
    """
    here = host_port("127.0.0.1", port)
    if is_wildcard(listen_host):
        hosts = [host for host in reachable_hosts(listen_host, lan) if not is_loopback(host)]
        if not hosts:
            return (
                f"Signalling server listening on port {port}, but this computer has no "
                f"network address guests could use: only this computer can reach it, at {here}"
            )
        where = ", ".join(host_port(host, port) for host in hosts)
        return f"Signalling server listening on port {port}: guests can reach it at {where}"
    address = host_port(listen_host, port)
    if is_loopback(listen_host):
        return f"Signalling server listening on {address}: only this computer can reach it"
    return f"Signalling server listening on {address}: guests can reach it there"


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address or ``localhost``: reachable from this machine only."""
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_listen_host(text: str) -> str:
    """``text`` as a listen address (an IP address or a name that resolves), else AddressError.

    IP literals are checked without any lookup; only a well-formed host name is
    looked up, once, with ``getaddrinfo`` (``/etc/hosts`` or DNS).
    """
    host = text.strip()
    if is_wildcard(host):
        return host or "0.0.0.0"
    literal = host.strip("[]")
    looks_numeric = all(part.isdigit() for part in literal.split(".")) or ":" in literal
    if looks_numeric:
        try:
            ipaddress.ip_address(literal)
        except ValueError:
            hint = " (put the port in the Port field)" if literal.count(":") == 1 else ""
            raise AddressError(f"{host!r} is not an IP address{hint}.") from None
        return literal
    labels = host.rstrip(".").split(".")
    if not all(_HOST_LABEL.fullmatch(label) for label in labels):
        raise AddressError(
            f"{host!r} is not an IP address or a host name; use an address of this "
            "computer such as 0.0.0.0 (every interface) or 127.0.0.1."
        )
    try:
        socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise AddressError(
            f"{host!r} is not a name this computer can resolve; use an IP address "
            "such as 0.0.0.0 (every interface) or 127.0.0.1."
        ) from None
    return host


def embedded_invite_link(listen_host: str, port: int, code: str, lan: Iterable[str]) -> str:
    """The invite link for the embedded server: LAN address when it listens everywhere."""
    host = lan_address(lan) if is_wildcard(listen_host) else listen_host
    return f"http://{host_port(host, port)}/join/{code}"


#: Quiet zone around a QR code, in modules (the standard's minimum).
QR_BORDER = 4


def invite_qr_png(link: str, *, scale: int = 8) -> bytes:
    """A PNG of the link as a QR code (black on white, ``scale`` pixels a module)."""
    buffer = io.BytesIO()
    segno.make(link, error="m", micro=False).save(
        buffer, kind="png", scale=scale, border=QR_BORDER, dark="black", light="white"
    )
    return buffer.getvalue()


def remote_invite_link(server_url: str, code: str) -> str:
    """The invite link for a remote ``ws://`` or ``wss://`` signalling server."""
    parts = urlsplit(normalize_server_url(server_url))
    scheme = "https" if parts.scheme == "wss" else "http"
    base = parts.path.rstrip("/")
    return f"{scheme}://{parts.netloc}{base}/join/{code}"


def normalize_server_url(text: str) -> str:
    """A websocket URL from what a person typed: ``host:port``, ``ws://…`` or ``http://…``."""
    text = text.strip()
    if not text:
        raise AddressError("Enter the host's server address, for example 192.168.1.20:8765.")
    if any(char.isspace() for char in text):
        raise AddressError(
            f"{text!r} has a space in it; a server address has none (host:port or ws://host:port/)."
        )
    if "://" not in text:
        text = f"ws://{text}"
    parts = urlsplit(text)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    if scheme not in ("ws", "wss") or not parts.hostname:
        raise AddressError(f"{text!r} is not a server address (host:port or ws://host:port/).")
    try:
        port = parts.port
    except ValueError as exc:
        raise AddressError(f"{text!r} has a port that is not a number.") from exc
    netloc = parts.netloc if port is not None else parts.hostname
    if port is None and ":" in parts.hostname:
        netloc = f"[{parts.hostname}]"
    path = parts.path if parts.path else "/"
    return f"{scheme}://{netloc}{path}"


def parse_join_target(text: str) -> JoinTarget:
    """A server URL, or a whole invite link (``…/join/CODE``) split into URL and code.

    An address typed without a scheme or a port (``192.168.1.20``) means
    LobbyHost's port, :data:`DEFAULT_PORT`; a URL with a scheme keeps its own
    default (``http://host/join/CODE`` is port 80).
    """
    url = normalize_server_url(text)
    parts = urlsplit(url)
    if "://" not in text and parts.port is None:
        parts = parts._replace(netloc=host_port(parts.netloc, DEFAULT_PORT))
        url = parts.geturl()
    head, sep, code = parts.path.rpartition("/join/")
    if not sep:
        return JoinTarget(url)
    code = code.strip("/")
    return JoinTarget(f"{parts.scheme}://{parts.netloc}{head}/", code or None)
