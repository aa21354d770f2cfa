"""The membership cookie: a member id signed for one room.

Member ids are not secret (``room-info`` shows them to the whole room), so the
cookie carries an HMAC-SHA256 of the room and the id under a server key: only
the server can make one, and a member's neighbours cannot take it over. Each
room's cookie has the room page's path, so one browser can be in several rooms.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Iterator
from typing import Final

#: The cookie's name; its path (``/camus/room/<slug>``) keeps rooms apart.
COOKIE_NAME: Final = "camus_member"


def room_path(slug: str) -> str:
    """The room page's path (the websocket is this plus ``/ws``)."""
    return f"/camus/room/{slug}"


def sign(key: bytes, slug: str, member_id: str) -> str:
    """The cookie value naming ``member_id`` of room ``slug``."""
    return f"{member_id}.{_signature(key, slug, member_id)}"


def member_of(key: bytes, slug: str, value: str) -> str | None:
    """The member id a cookie value names for room ``slug``, or ``None`` if it is not ours."""
    member_id, dot, signature = value.partition(".")
    if not dot or not member_id:
        return None
    expected = _signature(key, slug, member_id)
    if not hmac.compare_digest(signature.encode(), expected.encode()):
        return None
    return member_id


def set_cookie(slug: str, value: str) -> tuple[str, str]:
    """The ``Set-Cookie`` header that gives the browser the cookie ``value`` for room ``slug``."""
    return "Set-Cookie", f"{COOKIE_NAME}={value}; Path={room_path(slug)}; HttpOnly; SameSite=Lax"


def cookie_values(cookie_headers: Iterable[str]) -> Iterator[str]:
    """Every value of our cookie in the request's ``Cookie`` headers (any number of them)."""
    for header in cookie_headers:
        for pair in header.split(";"):
            name, eq, value = pair.strip().partition("=")
            if eq and name == COOKIE_NAME:
                yield value.strip().strip('"')


def _signature(key: bytes, slug: str, member_id: str) -> str:
    digest = hmac.new(key, f"camus\0{slug}\0{member_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
