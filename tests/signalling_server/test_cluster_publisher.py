"""The cluster's own Redis sockets on a real Redis: pipelined publish rounds and subscriptions."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import redis.asyncio

from signalling_server.cluster.redis_sockets import PublishError, RedisPublisher, open_subscription
from tests.signalling_server.redis_server import RedisServer
from tests.timeouts import scaled

pytestmark = pytest.mark.asyncio


class Rounds:
    """What each published round was answered, in the order the answers came."""

    def __init__(self, expected: int) -> None:
        self.answers: list[list[int] | None] = []
        self._expected = expected
        self.all_in = asyncio.Event()

    def replied(self, counts: list[int] | None) -> None:
        self.answers.append(counts)
        if len(self.answers) == self._expected:
            self.all_in.set()

    async def wait(self) -> list[list[int] | None]:
        async with asyncio.timeout(scaled(10)):
            await self.all_in.wait()
        return self.answers


@pytest.fixture
async def listener(redis_url: str) -> AsyncIterator[redis.asyncio.client.PubSub]:
    """A subscriber of channel ``here`` on the test's Redis."""
    client = redis.asyncio.Redis.from_url(redis_url)
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe("here")
    yield pubsub
    await pubsub.aclose()  # type: ignore[no-untyped-call]
    await client.aclose()


async def _messages(pubsub: redis.asyncio.client.PubSub, count: int) -> list[bytes]:
    got: list[bytes] = []
    async with asyncio.timeout(scaled(10)):
        async for message in pubsub.listen():
            if message["type"] == "message":
                got.append(message["data"])
                if len(got) == count:
                    return got
    raise AssertionError("the subscription ended")


async def test_rounds_arrive_in_order_and_count_their_receivers(
    redis_url: str, listener: redis.asyncio.client.PubSub
) -> None:
    """Many rounds written without waiting: each is answered, in order, with each channel's receivers."""
    publisher = RedisPublisher(redis_url, connect_timeout=scaled(5))
    await publisher.connect()
    rounds = Rounds(100)
    try:
        for number in range(100):
            publisher.publish(
                [(b"here", b"%d" % number), (b"nobody-listens", b"x")], rounds.replied
            )
        assert await rounds.wait() == [[1, 0]] * 100
        assert await _messages(listener, 100) == [b"%d" % n for n in range(100)]
    finally:
        publisher.close()


async def test_rounds_lost_with_redis_are_answered_none(
    redis_server: RedisServer, redis_url: str
) -> None:
    """Redis killed with rounds written: each is answered None; publishing then raises PublishError."""
    publisher = RedisPublisher(redis_url, connect_timeout=scaled(5))
    await publisher.connect()
    rounds = Rounds(2)
    try:
        redis_server.stop()
        publisher.publish([(b"here", b"1")], rounds.replied)
        publisher.publish([(b"here", b"2")], rounds.replied)
        assert await rounds.wait() == [None, None]
        assert not publisher.connected
        with pytest.raises(PublishError):
            publisher.publish([(b"here", b"3")], rounds.replied)
        with pytest.raises(PublishError, match="cannot reach Redis"):
            await publisher.connect()
    finally:
        publisher.close()
        redis_server.start()


async def test_a_url_with_credentials_authenticates(redis_url: str) -> None:
    """A user and password in the URL are sent with AUTH; wrong ones are a PublishError."""
    admin = redis.asyncio.Redis.from_url(redis_url)
    await admin.execute_command(
        "ACL", "SETUSER", "relay", "on", ">secret", "+publish", "+subscribe", "&*"
    )  # type: ignore[no-untyped-call]
    host = redis_url.removeprefix("redis://")
    try:
        got: list[bytes] = []
        arrived = asyncio.Event()

        def received(_channel: bytes, data: bytes) -> None:
            got.append(data)
            arrived.set()

        subscription = await open_subscription(
            f"redis://relay:secret@{host}",
            received,
            [b"secret-channel"],
            connect_timeout=scaled(5),
        )
        publisher = RedisPublisher(f"redis://relay:secret@{host}", connect_timeout=scaled(5))
        await publisher.connect()
        rounds = Rounds(1)
        publisher.publish([(b"secret-channel", b"x")], rounds.replied)
        assert await rounds.wait() == [[1]]
        async with asyncio.timeout(scaled(10)):
            await arrived.wait()
        assert got == [b"x"]
        publisher.close()
        subscription.close()
        wrong = RedisPublisher(f"redis://relay:wrong@{host}", connect_timeout=scaled(5))
        with pytest.raises(PublishError, match="credentials"):
            await wrong.connect()
    finally:
        await admin.execute_command("ACL", "DELUSER", "relay")  # type: ignore[no-untyped-call]
        await admin.aclose()


async def test_a_subscription_hands_over_messages_in_order_and_says_when_it_ends(
    redis_server: RedisServer, redis_url: str
) -> None:
    """Messages on two channels come in publish order with their channel; a Redis kill ends it."""
    got: list[tuple[bytes, bytes]] = []
    all_in = asyncio.Event()

    def received(channel: bytes, data: bytes) -> None:
        got.append((channel, data))
        if len(got) == 200:
            all_in.set()

    subscription = await open_subscription(
        redis_url, received, [b"one", b"two"], connect_timeout=scaled(5)
    )
    publisher = RedisPublisher(redis_url, connect_timeout=scaled(5))
    await publisher.connect()
    rounds = Rounds(100)
    try:
        for number in range(100):
            publisher.publish([(b"one", b"%d" % number), (b"two", b"%d" % number)], rounds.replied)
        assert await rounds.wait() == [[1, 1]] * 100
        async with asyncio.timeout(scaled(10)):
            await all_in.wait()
        expected = [(channel, b"%d" % n) for n in range(100) for channel in (b"one", b"two")]
        assert got == expected
        redis_server.stop()
        async with asyncio.timeout(scaled(10)):
            await subscription.closed
    finally:
        publisher.close()
        subscription.close()
        redis_server.start()
