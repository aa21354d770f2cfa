"""The cluster link's hot Redis connections, spoken to straight on the socket.

redis-py's asyncio client costs tens of microseconds of Python per awaited
command and per pub/sub message, and a node relaying between nodes publishes
once per loop tick and receives as often. So the link writes its ``PUBLISH``
commands itself, one write per round, pipelined (a round does not wait for
the previous one's replies), and reads its subscription in the transport's
callback, with no task or queue per message. Replies are parsed by hiredis
(Redis's own C parser, which redis-py uses too). Connecting (TCP, TLS for
``rediss://``, a unix socket, ``AUTH``) follows the URL as redis-py reads
it; pub/sub channels belong to no database, so the URL's database number
does not matter here.

When a connection drops, every publish round still waiting for its replies
is answered ``None`` (it may or may not have been published), and a
subscriber's :attr:`RedisSocket.closed` is done; the link tells the senders
and connects again.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections import deque
from collections.abc import Callable
from typing import Any, Final, TypeVar, cast

import hiredis
from redis.asyncio.connection import SSLConnection, UnixDomainSocketConnection, parse_url

logger = logging.getLogger(__name__)

#: Called with each channel's receiver count, in order, or ``None`` if the round was lost.
Replied = Callable[[list[int] | None], None]
#: Called with the channel and data of each message received.
Received = Callable[[bytes, bytes], None]

_PUBLISH_HEAD: Final = b"*3\r\n$7\r\nPUBLISH\r\n"


class PublishError(ConnectionError):
    """Redis cannot be reached, refused the connection's credentials, or dropped it."""


def _bulk(value: bytes) -> bytes:
    return b"$%d\r\n%b\r\n" % (len(value), value)


def _command(*parts: bytes) -> bytes:
    return b"*%d\r\n" % len(parts) + b"".join(_bulk(part) for part in parts)


class RedisSocket(asyncio.Protocol):
    """One connection: answers to our own commands first, then whatever the subclass reads."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self._reader = hiredis.Reader()
        #: Replies still owed to :meth:`ask`, in order.
        self._asked: deque[asyncio.Future[Any]] = deque()
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, only alike.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        reader = self._reader
        try:
            reader.feed(data)
            while (reply := reader.gets()) is not False:
                if self._asked:
                    asked = self._asked.popleft()
                    if not asked.done():
                        asked.set_result(reply)
                else:
                    self._reply(reply)
        except hiredis.ProtocolError as exc:
            logger.error("unreadable reply from Redis: %s", exc)
            self.close()

    def _reply(self, reply: Any) -> None:
        logger.error("a reply from Redis nobody asked for: %r", reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        asked, self._asked = self._asked, deque()
        for future in asked:
            if not future.done():
                future.set_exception(PublishError(f"connection lost: {exc}"))
        if not self.closed.done():
            self.closed.set_result(None)

    async def ask(self, command: bytes) -> Any:
        """Send one command of our own and return its reply."""
        if self.transport is None:
            raise PublishError("not connected to Redis")
        future = asyncio.get_running_loop().create_future()
        self._asked.append(future)
        self.transport.write(command)
        return await future

    def close(self) -> None:
        """Drop the connection at once."""
        if self.transport is not None:
            self.transport.abort()


S = TypeVar("S", bound=RedisSocket)


async def open_socket(url: str, factory: Callable[[], S], *, connect_timeout: float) -> S:
    """A connection to the Redis at ``url`` (authenticated); :class:`PublishError` if away."""
    options: dict[str, Any] = dict(parse_url(url))
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(connect_timeout):
            connection_class = options.get("connection_class")
            if connection_class is UnixDomainSocketConnection:
                _, protocol = await loop.create_unix_connection(factory, options["path"])
            else:
                _, protocol = await loop.create_connection(
                    factory,
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
                    protocol.close()
                    raise PublishError(f"Redis refused the credentials: {reply}")
    except (OSError, TimeoutError) as exc:
        if isinstance(exc, PublishError):
            raise
        raise PublishError(f"cannot reach Redis at {url}: {exc}") from exc
    return protocol


class _Round:
    __slots__ = ("counts", "expected", "replied")

    def __init__(self, expected: int, replied: Replied) -> None:
        self.expected = expected
        self.replied = replied
        self.counts: list[int] = []


class _PublishSocket(RedisSocket):
    def __init__(self) -> None:
        super().__init__()
        self.rounds: deque[_Round] = deque()

    def _reply(self, reply: Any) -> None:
        if not self.rounds:
            super()._reply(reply)
            return
        current = self.rounds[0]
        # An error reply (it should not happen for PUBLISH) counts as nobody listening.
        current.counts.append(reply if isinstance(reply, int) else 0)
        if len(current.counts) == current.expected:
            self.rounds.popleft()
            current.replied(current.counts)

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        rounds, self.rounds = self.rounds, deque()
        for lost in rounds:
            lost.replied(None)


class RedisPublisher:
    """Pipelined ``PUBLISH`` rounds on one connection to the Redis at ``url``."""

    def __init__(self, url: str, *, connect_timeout: float) -> None:
        self.url = url
        self.connect_timeout = connect_timeout
        self._socket: _PublishSocket | None = None

    @property
    def connected(self) -> bool:
        return self._socket is not None and self._socket.transport is not None

    async def connect(self) -> None:
        """Open the connection (and authenticate); :class:`PublishError` if Redis is away."""
        self.close()
        self._socket = await open_socket(
            self.url, _PublishSocket, connect_timeout=self.connect_timeout
        )

    def publish(self, messages: list[tuple[bytes, bytes]], replied: Replied) -> None:
        """Write one ``PUBLISH`` per ``(channel, data)``; ``replied`` gets the counts later.

        :class:`PublishError` (and no call to ``replied``) when not connected.
        """
        socket = self._socket
        if socket is None or socket.transport is None:
            raise PublishError("not connected to Redis")
        socket.rounds.append(_Round(len(messages), replied))
        socket.transport.write(
            b"".join(_PUBLISH_HEAD + _bulk(channel) + _bulk(body) for channel, body in messages)
        )

    def close(self) -> None:
        """Drop the connection; rounds still waiting are answered ``None``."""
        socket, self._socket = self._socket, None
        if socket is not None:
            socket.close()


class RedisSubscription(RedisSocket):
    """A subscribed connection: each message is handed to ``received`` as it is read."""

    def __init__(self, received: Received) -> None:
        super().__init__()
        self._received = received

    def _reply(self, reply: Any) -> None:
        if isinstance(reply, list) and len(reply) == 3 and reply[0] == b"message":
            self._received(reply[1], reply[2])
        elif not (isinstance(reply, list) and reply and reply[0] == b"subscribe"):
            super()._reply(reply)

    async def subscribe(self, *channels: bytes) -> None:
        """Subscribe and return once Redis confirmed every channel."""
        if self.transport is None:
            raise PublishError("not connected to Redis")
        confirmations = [asyncio.get_running_loop().create_future() for _ in channels]
        self._asked.extend(confirmations)  # one confirmation per channel, in order
        self.transport.write(_command(b"SUBSCRIBE", *channels))
        for confirmation in confirmations:
            await confirmation


async def open_subscription(
    url: str, received: Received, channels: list[bytes], *, connect_timeout: float
) -> RedisSubscription:
    """A connection subscribed to ``channels``; :class:`PublishError` if Redis is away."""
    subscription = await open_socket(
        url, lambda: RedisSubscription(received), connect_timeout=connect_timeout
    )
    try:
        async with asyncio.timeout(connect_timeout):
            await subscription.subscribe(*channels)
    except TimeoutError as exc:
        subscription.close()
        raise PublishError(f"Redis did not confirm the subscription: {exc}") from exc
    return subscription


def _tls_context(options: dict[str, Any]) -> ssl.SSLContext:
    """TLS as a ``rediss://`` URL asks (``ssl_ca_certs``, ``ssl_cert_reqs=none``)."""
    context = ssl.create_default_context(cafile=options.get("ssl_ca_certs"))
    if options.get("ssl_cert_reqs") in ("none", ssl.CERT_NONE):
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


__all__ = [
    "PublishError",
    "RedisPublisher",
    "RedisSocket",
    "RedisSubscription",
    "Replied",
    "open_socket",
    "open_subscription",
]
