"""An :class:`HttpReply` as the bytes of an HTTP/1.1 response.

Written by hand rather than with ``h11.Connection.send``: every reply closes
its connection, so h11's state tracking buys nothing, and it cost ~50 us a
reply, a third of a ``GET /healthz`` (tests/benchmarks/http_front.py). The
check h11 made that matters, no line break smuggled into a header, is made
here.
"""

from __future__ import annotations

from ..http_routes import HttpReply


class InvalidReply(ValueError):
    """A reply that cannot be sent: a header holds a line break or a character beyond Latin-1."""


def encode_reply(reply: HttpReply, server_header: str) -> bytes:
    """Status line, headers (``Connection: close`` included) and body, ready to write."""
    status = reply.status
    fields = [
        ("Content-Type", reply.content_type),
        ("Content-Length", str(len(reply.body))),
        ("Cache-Control", "no-store"),
        ("Connection", "close"),
        ("Server", server_header),
        *reply.headers,
    ]
    lines = [f"HTTP/1.1 {status.value} {status.phrase}"]
    for name, value in fields:
        if "\r" in name or "\n" in name or "\r" in value or "\n" in value or ":" in name:
            raise InvalidReply(f"header {name!r} would break the response apart")
        lines.append(f"{name}: {value}")
    lines.append("\r\n")
    try:
        head = "\r\n".join(lines).encode("latin-1")
    except UnicodeEncodeError as exc:
        raise InvalidReply("a header holds a character beyond Latin-1") from exc
    return head + reply.body


__all__ = ["InvalidReply", "encode_reply"]
