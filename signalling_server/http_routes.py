"""The plain HTTP GET routes served on the websocket port.

Pure: a path (and what the server knows) in, an :class:`HttpReply` out; the
server module only turns replies into websockets' responses.
"""

from __future__ import annotations

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
PAGE_HEADERS: tuple[tuple[str, str], ...] = (
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
)
JOIN_PREFIX = "/join"
ASSET_PREFIX = "/web/"


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


def health_reply(*, connections: int, lobbies: int, version: str) -> HttpReply:
    """``GET /healthz``."""
    body = msgspec.json.encode(
        {"status": "ok", "connections": connections, "lobbies": lobbies, "version": version}
    )
    return HttpReply(HTTPStatus.OK, "application/json", body)


def method_not_allowed_reply() -> HttpReply:
    """Anything but GET on an HTTP route."""
    return HttpReply(
        HTTPStatus.METHOD_NOT_ALLOWED, "text/plain; charset=utf-8", b"only GET is allowed here\n"
    )


def not_found_reply(path: str) -> HttpReply:
    return HttpReply(
        HTTPStatus.NOT_FOUND, "text/plain; charset=utf-8", f"no such page: {path}\n".encode()
    )
