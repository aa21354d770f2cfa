"""The plain HTTP routes served on the websocket port, and the request and reply types.

Pure: an :class:`HttpRequest` (or just a path) in, an :class:`HttpReply` out;
the transport (:mod:`signalling_server.transport`) parses requests off the
socket and writes replies back.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from http import HTTPStatus

import msgspec

from .web_assets import INDEX, WebAssets

#: The guest page runs only its own scripts and styles, talks only to its own
#: server (``ws:``/``wss:``), and may not be framed or post forms elsewhere.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self' ws: wss:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
#: Browsers must take a reply's Content-Type as given, not guess HTML from its body.
NOSNIFF = ("X-Content-Type-Options", "nosniff")
PAGE_HEADERS: tuple[tuple[str, str], ...] = (
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    NOSNIFF,
    ("Referrer-Policy", "no-referrer"),
)
JOIN_PREFIX = "/join"
ASSET_PREFIX = "/web/"


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """One complete HTTP request, as a route handler receives it."""

    method: str
    #: The path without the query string, e.g. ``/join/K7QX2M``.
    path: str
    #: The raw query string after ``?`` (``""`` when there is none).
    query: str
    #: Header fields in the order received; names are lower-case.
    headers: tuple[tuple[str, str], ...]
    body: bytes
    #: The client's IP address.
    client: str

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (any case), or ``None``."""
        wanted = name.lower()
        for key, value in self.headers:
            if key == wanted:
                return value
        return None


@dataclass(frozen=True, slots=True)
class HttpReply:
    """A complete HTTP answer: status, content type, body and any extra headers."""

    status: HTTPStatus
    content_type: str
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()


def web_reply(path: str, assets: WebAssets | None) -> HttpReply | None:
    """The guest page's routes, or ``None`` when ``path`` is not one of them.

    ``/join`` and ``/join/<code>`` are the page itself (its script reads the code
    from the address); ``/web/<file>`` are its scripts and styles.
    """
    if path in (JOIN_PREFIX, f"{JOIN_PREFIX}/") or _is_join_with_code(path):
        name = INDEX
    elif path.startswith(ASSET_PREFIX):
        name = path.removeprefix(ASSET_PREFIX)
    else:
        return None
    if assets is None:
        return HttpReply(
            HTTPStatus.NOT_FOUND,
            "text/plain; charset=utf-8",
            b"The browser guest page is not installed on this server: join from the app.\n",
            PAGE_HEADERS,
        )
    asset = assets.files.get(name)
    if asset is None:
        return not_found_reply(path)
    return HttpReply(HTTPStatus.OK, asset.content_type, asset.body, PAGE_HEADERS)


def _is_join_with_code(path: str) -> bool:
    head, slash, code = path.rpartition("/")
    return head == JOIN_PREFIX and bool(slash) and bool(code)


def health_reply(
    *, connections: int, lobbies: int, version: str, degraded: bool = False
) -> HttpReply:
    """``GET /healthz``: 200 ``ok``, or 503 ``degraded`` while a cluster's Redis is away."""
    status = "degraded" if degraded else "ok"
    body = msgspec.json.encode(
        {"status": status, "connections": connections, "lobbies": lobbies, "version": version}
    )
    code = HTTPStatus.SERVICE_UNAVAILABLE if degraded else HTTPStatus.OK
    return HttpReply(code, "application/json", body)


def method_not_allowed_reply(allowed: Iterable[str] = ("GET",)) -> HttpReply:
    """A method the route does not take: 405 naming the ones it does (``Allow``)."""
    methods = ", ".join(sorted(allowed))
    return HttpReply(
        HTTPStatus.METHOD_NOT_ALLOWED,
        "text/plain; charset=utf-8",
        f"allowed here: {methods}\n".encode(),
        (("Allow", methods), NOSNIFF),
    )


def join_page_redirect(assets: WebAssets | None) -> HttpReply:
    """``GET /`` from a browser, not a websocket: to the join page (or say what ``/`` is)."""
    if assets is None:
        return HttpReply(
            HTTPStatus.UPGRADE_REQUIRED,
            "text/plain; charset=utf-8",
            b"This is a LobbyHost signalling server: connect to it with the app.\n",
            (("Upgrade", "websocket"), NOSNIFF),
        )
    return HttpReply(
        HTTPStatus.FOUND,
        "text/plain; charset=utf-8",
        b"The join page is at /join\n",
        (("Location", JOIN_PREFIX), NOSNIFF),
    )


def not_found_reply(path: str) -> HttpReply:
    """No such route or file: 404 (the path is echoed as text, never to be sniffed as HTML)."""
    return HttpReply(
        HTTPStatus.NOT_FOUND,
        "text/plain; charset=utf-8",
        f"no such page: {path}\n".encode(),
        (NOSNIFF,),
    )


def error_reply(status: HTTPStatus, text: str, *headers: tuple[str, str]) -> HttpReply:
    """A short plain-text error answer (bad request, body too large ...)."""
    return HttpReply(status, "text/plain; charset=utf-8", f"{text}\n".encode(), (*headers, NOSNIFF))
