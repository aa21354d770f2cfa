"""Publishing batches to other nodes: PUBLISH commands written straight to one Redis socket.

redis-py's asyncio client costs tens of microseconds of Python per awaited
command, and a node publishes once per loop tick while it relays between
nodes, so the link writes its PUBLISH commands itself: one write per round,
pipelined (the next round does not wait for the previous one's replies), the
replies read by hiredis (Redis's own C parser, which redis-py uses too) and
handed back in order. Connecting (TCP, TLS for ``rediss://``, a unix socket,
``AUTH``) follows the URL as redis-py reads it. Pub/sub channels belong to no
database, so the URL's database number does not matter here.

When the connection drops, every round still waiting for its replies is
answered ``None`` (it may or may not have been published); the link tells
those relays' senders so, and connects again for the next round.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections import deque
from collections.abc import Callable
from typing import Any, Final, cast

import hiredis
from redis.asyncio.connection import SSLConnection, UnixDomainSocketConnection, parse_url

logger = logging.getLogger(__name__)

#: Called with each channel's receiver count, in order, or ``None`` if the round was lost.
Replied = Callable[[list[int] | None], None]

_PUBLISH_HEAD: Final = b"*3\r\n$7\r\nPUBLISH\r\n"


class PublishError(ConnectionError):
    """Redis cannot be reached, refused the connection's credentials, or dropped it."""


def _bulk(value: bytes) -> bytes:
    return b"$%d\r\n%b\r\n" % (len(value), value)


def _command(*parts: bytes) -> bytes:
    return b"*%d\r\n" % len(parts) + b"".join(_bulk(part) for part in parts)


class _Round:
    __slots__ = ("counts", "expected", "replied")

    def __init__(self, expected: int, replied: Replied) -> None:
        self.expected = expected
        self.replied = replied
        self.counts: list[int] = []


class _PublishProtocol(asyncio.Protocol):
    """One connection: writes what it is given, answers rounds as replies come in."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self._reader = hiredis.Reader()
        self._rounds: deque[_Round] = deque()
        #: A reply to a command of our own (``AUTH``), before any round.
        self._handshake: asyncio.Future[Any] | None = None
        self.closed = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, only alike.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        reader = self._reader
        try:
            reader.feed(data)
            while (reply := reader.gets()) is not False:
                self._reply(reply)
        except hiredis.ProtocolError as exc:
            logger.error("unreadable reply from Redis: %s", exc)
            if self.transport is not None:
                self.transport.abort()

    def _reply(self, reply: Any) -> None:
        handshake = self._handshake
        if handshake is not None:
            self._handshake = None
            if not handshake.done():
                handshake.set_result(reply)
            return
        if not self._rounds:
            logger.error("a reply from Redis nobody asked for: %r", reply)
            return
        current = self._rounds[0]
        # An error reply (it should not happen for PUBLISH) counts as nobody listening.
        current.counts.append(reply if isinstance(reply, int) else 0)
        if len(current.counts) == current.expected:
            self._rounds.popleft()
            current.replied(current.counts)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if self._handshake is not None and not self._handshake.done():
            self._handshake.set_exception(PublishError(f"connection lost: {exc}"))
        rounds, self._rounds = self._rounds, deque()
        for lost in rounds:
            lost.replied(None)
        if not self.closed.done():
            self.closed.set_result(None)

    async def ask(self, command: bytes) -> Any:
        """Send one command of our own and return its reply."""
        assert self.transport is not None
        self._handshake = asyncio.get_running_loop().create_future()
        self.transport.write(command)
        return await self._handshake

    def write_round(self, data: bytes, expected: int, replied: Replied) -> None:
        assert self.transport is not None
        self._rounds.append(_Round(expected, replied))
        self.transport.write(data)


class RedisPublisher:
    """Pipelined ``PUBLISH`` rounds on one connection to the Redis at ``url``."""

    def __init__(self, url: str, *, connect_timeout: float) -> None:
        self.url = url
        self.connect_timeout = connect_timeout
        self._options: dict[str, Any] = dict(parse_url(url))
        self._protocol: _PublishProtocol | None = None

    @property
    def connected(self) -> bool:
        return self._protocol is not None and self._protocol.transport is not None

    async def connect(self) -> None:
        """Open the connection (and authenticate); :class:`PublishError` if Redis is away."""
        self.close()
        options = self._options
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.connect_timeout):
                connection_class = options.get("connection_class")
                if connection_class is UnixDomainSocketConnection:
                    _, protocol = await loop.create_unix_connection(
                        _PublishProtocol, options["path"]
                    )
                else:
                    _, protocol = await loop.create_connection(
                        _PublishProtocol,
                        options.get("host", "localhost"),
                        options.get("port", 6379),
                        ssl=_tls_context(options) if connection_class is SSLConnection else None,
                    )
                password = options.get("password")
                if password is not None:
                    username = options.get("username")
                    parts = [b"AUTH"] + ([username.encode()] if username else [])
                    reply = await protocol.ask(_command(*parts, password.encode()))
                    if isinstance(reply, hiredis.ReplyError):
                        protocol.transport.close()  # type: ignore[union-attr]
                        raise PublishError(f"Redis refused the credentials: {reply}")
        except (OSError, TimeoutError) as exc:
            raise PublishError(f"cannot reach Redis at {self.url}: {exc}") from exc
        self._protocol = protocol

    def publish(self, messages: list[tuple[bytes, bytes]], replied: Replied) -> None:
        """Write one ``PUBLISH`` per ``(channel, data)``; ``replied`` gets the counts later.

        :class:`PublishError` (and no call to ``replied``) when not connected.
        """
        protocol = self._protocol
        if protocol is None or protocol.transport is None:
            raise PublishError("not connected to Redis")
        data = b"".join(_PUBLISH_HEAD + _bulk(channel) + _bulk(body) for channel, body in messages)
        protocol.write_round(data, len(messages), replied)

    def close(self) -> None:
        """Drop the connection; rounds still waiting are answered ``None``."""
        protocol, self._protocol = self._protocol, None
        if protocol is not None and protocol.transport is not None:
            protocol.transport.abort()

    async def wait_closed(self) -> None:
        protocol = self._protocol
        if protocol is not None:
            await protocol.closed


def _tls_context(options: dict[str, Any]) -> ssl.SSLContext:
    """TLS as a ``rediss://`` URL asks (``ssl_ca_certs``, ``ssl_cert_reqs=none``)."""
    context = ssl.create_default_context(cafile=options.get("ssl_ca_certs"))
    if options.get("ssl_cert_reqs") in ("none", ssl.CERT_NONE):
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


__all__ = ["PublishError", "RedisPublisher", "Replied"]
