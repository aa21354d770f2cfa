"""The dialects' rooms with their members on different nodes of a cluster.

Two nodes share one real Redis: room records live there, and frames for a
member whose socket is on the other node go through the cluster link, as
protocol v1's events do.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import redis.asyncio

from signalling_server import SignallingServer, serve
from signalling_server.backend.redis import DEFAULT_PREFIX
from tests.signalling_server.cluster_lab import cluster_config
from tests.signalling_server.dialects.test_bellhop_wire import ANSWER_SDP, OFFER_SDP, GodotClient
from tests.signalling_server.dialects.test_camus_wire import (
    ANSWER,
    GROUND_CONTROL,
    OFFER,
    CamusClient,
    _create,
    _member,
    _socket,
)
from tests.signalling_server.dialects.test_groovejet_wire import EVENT_TIMEOUT, Pearl

pytestmark = pytest.mark.asyncio


@contextlib.asynccontextmanager
async def two_nodes(redis_url: str) -> AsyncIterator[tuple[SignallingServer, SignallingServer]]:
    """Two nodes of one cluster, with the Camus web client off (as its wire tests run)."""
    config = dataclasses.replace(cluster_config(redis_url), web_root=None)
    async with serve(config) as first, serve(config) as second:
        yield first, second


async def _room_info(client: CamusClient) -> list[str]:
    """The member ids ``get-room-info`` lists, asked from ``client``."""
    await client.send(GROUND_CONTROL, "get-room-info")
    info = await client.next()
    assert info["type"] == "room-info", info
    return sorted(entry["id"] for entry in info["data"]["clients"])


async def test_a_camus_room_with_members_on_two_nodes(redis_url: str) -> None:
    """Room made on one node; members' pages and sockets on both; offers, broadcasts, profile, bye."""
    async with two_nodes(redis_url) as (first, second):
        slug = await _create(first, "Across Nodes")
        ann_cookie = await _member(first, slug)
        bob_cookie = await _member(second, slug)
        async with (
            _socket(first, slug, ann_cookie) as ann,
            _socket(second, slug, bob_cookie) as bob,
        ):
            await ann.learn_id()
            await bob.learn_id()
            assert await _room_info(ann) == sorted([ann.id, bob.id])
            await ann.send(bob.id, "offer", OFFER)
            assert await bob.next() == {
                "sender": ann.id,
                "receiver": bob.id,
                "type": "offer",
                "data": OFFER,
            }
            await bob.send(ann.id, "answer", ANSWER)
            assert (await ann.next())["data"] == ANSWER
            await bob.send("room", "text", {"text": "hi"})
            for client in (ann, bob):
                heard = await client.next()
                assert (heard["sender"], heard["data"]) == (bob.id, {"text": "hi"})
            await bob.send(GROUND_CONTROL, "profile", {"username": "Bob"})
            for client in (ann, bob):
                renamed = await client.next()
                assert renamed["type"] == "room-info", renamed
                assert {"id": bob.id, "username": "Bob"} in renamed["data"]["clients"]
            await bob.send(GROUND_CONTROL, "bye")
            left = await ann.next()
            assert left["data"]["clients"] == [{"id": ann.id, "username": "Major Tom"}]
            assert await bob.expect_closed() == 1000


async def test_a_camus_socket_on_one_node_takes_over_from_one_on_the_other(
    redis_url: str,
) -> None:
    """The same cookie's second socket, on the other node, takes the member over and closes the first."""
    async with two_nodes(redis_url) as (first, second):
        slug = await _create(first, "Take Over")
        cookie = await _member(first, slug)
        async with _socket(first, slug, cookie) as earlier:
            member_id = await earlier.learn_id()
            async with _socket(second, slug, cookie) as later:
                assert await earlier.expect_closed() == 4000
                assert await later.learn_id() == member_id


async def test_camus_members_entering_on_both_nodes_at_once_are_all_kept(redis_url: str) -> None:
    """Members entering and talking on two nodes at the same time: no change to the room is lost."""
    async with two_nodes(redis_url) as (first, second):
        slug = await _create(first, "Busy Room")
        nodes = (first, second)
        cookies = await asyncio.gather(*(_member(nodes[index % 2], slug) for index in range(12)))
        async with contextlib.AsyncExitStack() as stack:
            clients = [
                await stack.enter_async_context(_socket(nodes[index % 2], slug, cookie))
                for index, cookie in enumerate(cookies)
            ]
            ids = await asyncio.gather(*(client.learn_id() for client in clients))
            renames = [
                client.send(GROUND_CONTROL, "profile", {"username": f"P{index}"})
                for index, client in enumerate(clients)
            ]
            await asyncio.gather(*renames)
            # Every member hears one room-info per rename; then the room shows every name.
            for client in clients:
                for _ in clients:
                    assert (await client.next())["type"] == "room-info"
            await clients[0].send(GROUND_CONTROL, "get-room-info")
            info = await clients[0].next()
            latest = {entry["id"]: entry["username"] for entry in info["data"]["clients"]}
            assert latest == {member: f"P{index}" for index, member in enumerate(ids)}


async def test_a_groovejet_room_with_host_and_guests_on_two_nodes(redis_url: str) -> None:
    """Host on one node, guests on both: offers reach the host, each answer only its own guest."""
    async with two_nodes(redis_url) as (first, second):
        host = await Pearl.connect(first)
        code = await host.create_room()
        near, far = await Pearl.connect(first), await Pearl.connect(second)
        await near.join_room(code)
        await far.join_room(code)
        for guest in (far, near):
            await guest.send({"type": "guestOfferSignal", "data": {"offerSignal": OFFER}})
            assert await host.next() == {
                "type": "guestOfferSignal",
                "data": {"offerSignal": OFFER, "clientId": guest.client_id},
            }
        for guest, marker in ((far, "to-far"), (near, "to-near")):
            answer = {"type": "answer", "sdp": marker}
            await host.send(
                {
                    "type": "hostAnswerSignal",
                    "data": {"answerSignal": answer, "clientId": guest.client_id},
                }
            )
        assert (await far.next())["data"]["answerSignal"]["sdp"] == "to-far"
        assert (await near.next())["data"]["answerSignal"]["sdp"] == "to-near"


async def test_a_groovejet_seat_left_on_one_node_is_taken_on_the_other(redis_url: str) -> None:
    """A host that drops from one node leaves its seat empty; a client on the other node takes it."""
    async with two_nodes(redis_url) as (first, second):
        host = await Pearl.connect(first)
        code = await host.create_room()
        guest = await Pearl.connect(first)
        await guest.join_room(code)
        async with announced(redis_url, f"groovejet:{code}") as seat_emptied:
            await host.ws.close()
            await seat_emptied()
        successor = await Pearl.connect(second)
        await successor.send({"type": "joinRoom", "data": {"roomCode": code, "canHost": True}})
        assert await successor.next() == {"type": "joinedRoom", "data": {"isHost": True}}
        await guest.send({"type": "guestOfferSignal", "data": {"offerSignal": OFFER}})
        assert (await successor.next())["data"]["clientId"] == guest.client_id


async def test_a_groovejet_host_on_a_dead_node_leaves_its_seat_empty(redis_url: str) -> None:
    """A host whose node dies empties its seat as a drop does (the room stays for a new host)."""
    async with two_nodes(redis_url) as (first, second):
        host = await Pearl.connect(second)
        code = await host.create_room()
        guest = await Pearl.connect(first)
        await guest.join_room(code)
        link = second.cluster
        assert link is not None
        async with announced(redis_url, f"groovejet:{code}") as seat_emptied:
            await link.stop_as_if_killed()
            await seat_emptied()
        successor = await Pearl.connect(first)
        await successor.send({"type": "joinRoom", "data": {"roomCode": code, "canHost": True}})
        assert await successor.next() == {"type": "joinedRoom", "data": {"isHost": True}}
        await guest.send({"type": "guestOfferSignal", "data": {"offerSignal": OFFER}})
        assert (await successor.next())["data"]["clientId"] == guest.client_id
        assert first.cluster is not None and first.cluster.stats.nodes_reaped == 1


async def test_a_bellhop_lobby_with_host_and_guest_on_two_nodes(redis_url: str) -> None:
    """Bellhop: host on one node, player on the other: join, accept, offer and answer relayed."""
    async with two_nodes(redis_url) as (first, second):
        host = await GodotClient.open(f"ws://127.0.0.1:{first.port}/bellhop", "127.0.0.31")
        player = await GodotClient.open(f"ws://127.0.0.1:{second.port}/bellhop", "127.0.0.32")
        try:
            await host.assert_silent()  # learns its id
            await player.assert_silent()
            await host.send("start_lobby", lobby_id="across")
            assert await host.expect("lobby_started") == {"lobby_id": "across"}
            await player.send("join_lobby", lobby_id="across")
            assert await host.expect("received_join_request") == {"connection_id": player.id}
            await host.send("accept_join_request", player_connection_id=player.id, player_peer_id=2)
            assert (await player.expect("join_request_accepted"))["host_connection_id"] == host.id
            await player.send(
                "send_session_description",
                connection_id=host.id,
                session_type="offer",
                sdp=OFFER_SDP,
            )
            assert (await host.expect("received_session_description"))["sdp"] == OFFER_SDP
            await host.send(
                "send_session_description",
                connection_id=player.id,
                session_type="answer",
                sdp=ANSWER_SDP,
            )
            assert (await player.expect("received_session_description"))["sdp"] == ANSWER_SDP
        finally:
            await host.close()
            await player.close()


@contextlib.asynccontextmanager
async def announced(redis_url: str, lobby_id: str) -> AsyncIterator[Callable[[], Awaitable[None]]]:
    """A waiter for the next change of ``lobby_id`` that a node announces on the changes channel."""
    client = redis.asyncio.Redis.from_url(redis_url)
    pubsub = client.pubsub()

    async def wait_for(wanted: Callable[[dict[str, Any]], bool], what: str) -> None:
        # get_message's own timeout: a read cancelled from outside may leave the
        # pub/sub connection waiting, as seen on a loaded machine.
        deadline = asyncio.get_running_loop().time() + EVENT_TIMEOUT
        while (left := deadline - asyncio.get_running_loop().time()) > 0:
            message = await pubsub.get_message(timeout=left)
            if message is not None and wanted(message):
                return
        raise AssertionError(f"no {what} within {EVENT_TIMEOUT} s")

    def is_change(message: dict[str, Any]) -> bool:
        data = message["data"] if message["type"] == "message" else b""
        return bool(data.partition(b" ")[0] == lobby_id.encode())

    async def changed() -> None:
        await wait_for(is_change, f"announcement for {lobby_id}")

    try:
        await pubsub.subscribe(f"{DEFAULT_PREFIX}lobby-changes")
        # Subscribed once confirmed: no announcement from then on is missed.
        await wait_for(lambda message: message["type"] == "subscribe", "subscription")
        yield changed
    finally:
        await pubsub.aclose()  # type: ignore[no-untyped-call]
        await client.aclose()
