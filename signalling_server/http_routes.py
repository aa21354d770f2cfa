"""The plain HTTP GET routes served on the websocket port."""

from __future__ import annotations

from dataclasses import dataclass
from http import HTTPStatus

import msgspec


@dataclass(frozen=True, slots=True)
class HttpReply:
    """A complete HTTP answer: status, content type and body."""

    status: HTTPStatus
    content_type: str
    body: bytes


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
