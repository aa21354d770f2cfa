"""Addresses a person types or shares: invite links and signalling server URLs.

Qt-free so the desktop app, the headless host and the tests share it. An
invite link is ``http://<address>:<port>/join/<code>``: the signalling server
serves the browser guest page there, and the desktop app's Join mode accepts
the same link pasted whole.
"""

from __future__ import annotations

import io
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

import segno

from .errors import LobbyHostError

_WILDCARDS = frozenset({"", "0.0.0.0", "::", "*"})


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
    """A server URL, or a whole invite link (``…/join/CODE``) split into URL and code."""
    url = normalize_server_url(text)
    parts = urlsplit(url)
    head, sep, code = parts.path.rpartition("/join/")
    if not sep:
        return JoinTarget(url)
    code = code.strip("/")
    return JoinTarget(f"{parts.scheme}://{parts.netloc}{head}/", code or None)
