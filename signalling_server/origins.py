"""Which web pages may open the native websocket: the ``Origin`` allow-list.

A browser attaches the ``Origin`` of the page that opens a websocket, and any
page on the web can try. The native endpoint lets in requests with no
``Origin`` (the desktop app, the headless host, the guest CLI, game clients),
pages of the server's own origin (the guest page at ``/join``, compared by
host and port with the request's ``Host``, so it holds behind a TLS proxy that
passes ``Host`` on), and the origins the operator lists (``--allowed-origin``;
``*`` lets in any). The dialect endpoints keep their own contracts and are not
checked here.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final
from urllib.parse import urlsplit

#: The entry that lets in every origin.
ANY_ORIGIN: Final = "*"

_DEFAULT_PORTS: Final = {"http": 80, "https": 443, "ws": 80, "wss": 443}


class InvalidOrigin(ValueError):
    """An allow-list entry that is not ``scheme://host[:port]``."""


def normalise_origin(text: str) -> str:
    """``scheme://host:port``, lower case, port spelled out; else :class:`InvalidOrigin`."""
    try:
        parts = urlsplit(text.strip())
        port = parts.port
    except ValueError as exc:
        raise InvalidOrigin(f"not an origin: {text!r}") from exc
    scheme = parts.scheme.lower()
    host = parts.hostname
    if scheme not in _DEFAULT_PORTS or not host or parts.path not in ("", "/"):
        raise InvalidOrigin(f"not an origin (scheme://host[:port]): {text!r}")
    if parts.query or parts.fragment or parts.username is not None:
        raise InvalidOrigin(f"not an origin (scheme://host[:port]): {text!r}")
    return f"{scheme}://{_host_port(host, port or _DEFAULT_PORTS[scheme])}"


def _host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class OriginPolicy:
    """Decides whether a websocket request's ``Origin`` may open the native endpoint."""

    __slots__ = ("_allowed", "_any")

    def __init__(self, allowed: Iterable[str] = ()) -> None:
        entries = tuple(allowed)
        self._any = ANY_ORIGIN in entries
        self._allowed = frozenset(normalise_origin(e) for e in entries if e != ANY_ORIGIN)

    def allows(self, origin: str | None, host: str | None) -> bool:
        """Whether a request with this ``Origin`` and ``Host`` header may go on."""
        if origin is None or self._any:
            return True
        try:
            normalised = normalise_origin(origin)
        except InvalidOrigin:
            return False  # "null" (a file:// page, a sandboxed frame) and anything odd
        if normalised in self._allowed:
            return True
        return host is not None and _same_host(normalised, host)


def _same_host(origin: str, host_header: str) -> bool:
    """Whether ``origin`` names the host and port the request was sent to."""
    scheme, _, origin_host = origin.partition("://")
    try:
        parts = urlsplit(f"//{host_header.strip()}")
        port = parts.port
    except ValueError:
        return False
    if not parts.hostname:
        return False
    # A Host without a port was sent to the scheme's default port.
    return origin_host == _host_port(parts.hostname, port or _DEFAULT_PORTS[scheme])


__all__ = ["ANY_ORIGIN", "InvalidOrigin", "OriginPolicy", "normalise_origin"]
