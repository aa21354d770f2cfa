"""Two and three nodes on one real Redis, in this process, with clients spread across them.

Every flow of protocol v1 where the people involved sit on different nodes:
join, accept, relay, kick, close, leave, resume on another node, timers, a
relay to someone who just left, and Redis going away and coming back.
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request

import pytest

from signalling_server import serve
from signalling_server.backend import BackendUnavailable
from tests.signalling_server.cluster_lab import cluster_config, open_cluster
from tests.signalling_server.redis_server import RedisServer
from tests.signalling_server.wsclient import ANSWER, CANDIDATE, EVENT_TIMEOUT, OFFER
from tests.timeouts import scaled

pytestmark = pytest.mark.asyncio


async def test_join_accept_and_relay_across_three_nodes(redis_url: str) -> None:
    """Host on one node, guests on two others: join, accept, offer/answer, candidates, broadcast."""
    async with open_cluster(redis_url, 3) as lab:
        host, started = await lab.host(0, name="Friday")
        code = started["lobby_id"]
        bob, accepted = await lab.guest(1, host, code, "Bob")
        assert accepted["host_connection_id"] == host.id
        cy, _ = await lab.guest(2, host, code, "Cy")
        assert len({host.id.split(".")[0], bob.id.split(".")[0], cy.id.split(".")[0]}) == 3
        await host.act("set_session_description", connection_id=bob.id, description=OFFER)
        got = await bob.expect("received_session_description")
        assert got == {"connection_id": host.id, "description": OFFER}
        await bob.act("set_session_description", connection_id=host.id, description=ANSWER)
        assert (await host.expect("received_session_description"))["description"] == ANSWER
        await cy.act("send_ice_candidate", connection_id=host.id, candidate=CANDIDATE)
        got = await host.expect("received_ice_candidate")
        assert got == {"connection_id": cy.id, "candidate": CANDIDATE}
        await host.act("send_message", connection_id="*", data={"round": 1})
        assert (await bob.expect("received_message"))["data"] == {"round": 1}
        assert (await cy.expect("received_message"))["data"] == {"round": 1}
        info_ref = "info"
        await cy.act("get_lobby_info", ref=info_ref)
        info = await cy.expect("lobby_info", ref=info_ref)
        assert sorted(guest["name"] for guest in info["guests"]) == ["Bob", "Cy"]
        for client in (host, bob, cy):
            await client.assert_silent()


async def test_relays_between_nodes_keep_their_order(redis_url: str) -> None:
    """A burst of messages from a guest on one node reaches the host on another in order."""
    async with open_cluster(redis_url, 2) as lab:
        host, started = await lab.host(0)
        bob, _ = await lab.guest(1, host, started["lobby_id"], "Bob")
        for number in range(150):
            await bob.act("send_message", connection_id=host.id, data=number)
        received = [(await host.expect("received_message"))["data"] for _ in range(150)]
        assert received == list(range(150))


async def test_reject_cancel_kick_and_close_across_nodes(redis_url: str) -> None:
    """Reject, cancel, kick and close reach people on other nodes, as on one node."""
    async with open_cluster(redis_url, 3) as lab:
        host, started = await lab.host(0)
        code = started["lobby_id"]
        turned_down = await lab.joiner(1, host, code, "Dan")
        await host.act("reject_join_request", connection_id=turned_down.id, message="full")
        rejected = await turned_down.expect("request_rejected")
        assert rejected["reason"] == "rejected_by_host" and rejected["message"] == "full"
        removed = await host.expect("request_removed")
        assert removed == {"connection_id": turned_down.id, "reason": "rejected_by_host"}
        leaving = await lab.joiner(2, host, code, "Eve")
        await leaving.act("cancel_join")
        await leaving.expect("join_cancelled")
        assert await host.expect("request_cancelled") == {"connection_id": leaving.id}
        bob, _ = await lab.guest(1, host, code, "Bob")
        cy, _ = await lab.guest(2, host, code, "Cy")
        await host.act("kick_guest", connection_id=bob.id, message="bye")
        assert (await bob.expect("kicked"))["message"] == "bye"
        assert await host.expect("guest_left") == {"connection_id": bob.id, "reason": "kicked"}
        await bob.act("send_message", connection_id=host.id, data="still here?")
        await bob.expect_error("not_in_lobby", "send_message")
        await cy.act("leave_lobby")
        await cy.expect("left_lobby")
        assert await host.expect("guest_left") == {"connection_id": cy.id, "reason": "left"}
        dan, _ = await lab.guest(2, host, code, "Dan")
        await host.act("close_lobby", ref="bye")
        await host.expect("lobby_closed", ref="bye")
        assert await dan.expect("lobby_closed") == {"lobby_id": code, "reason": "closed_by_host"}
        late = await lab.client(1)
        await late.act("join_lobby", lobby_id=code)
        await late.expect_error("lobby_not_found", "join_lobby")


async def test_guest_and_host_resume_on_another_node(redis_url: str) -> None:
    """A guest and then the host drop and resume on other nodes; the others see only notices."""
    async with open_cluster(redis_url, 3, guest_grace=scaled(30), host_grace=scaled(30)) as lab:
        host, started = await lab.host(0)
        code, host_token = started["lobby_id"], started["host_token"]
        bob, accepted = await lab.guest(1, host, code, "Bob")
        cy, _ = await lab.guest(2, host, code, "Cy")
        assert lab.nodes[1].abort_connection(bob.id)
        assert await host.expect("guest_left") == {
            "connection_id": bob.id,
            "reason": "disconnected",
        }
        back = await lab.client(2)
        await back.act("resume", token=accepted["guest_token"])
        resumed = await back.expect("resumed")
        assert resumed["role"] == "guest" and resumed["peer_id"] == accepted["peer_id"]
        back.id = resumed["connection_id"]
        assert await host.expect("guest_resumed") == {
            "old_connection_id": bob.id,
            "connection_id": back.id,
        }
        assert lab.nodes[0].abort_connection(host.id)
        assert (await back.expect("host_disconnected"))["lobby_id"] == code
        assert (await cy.expect("host_disconnected"))["lobby_id"] == code
        host_back = await lab.client(1)
        await host_back.act("resume", token=host_token)
        resumed = await host_back.expect("resumed")
        assert resumed["role"] == "host"
        host_back.id = resumed["connection_id"]
        for guest in (back, cy):
            notice = await guest.expect("host_resumed")
            assert notice == {"old_connection_id": host.id, "connection_id": host_back.id}
        await back.act("send_message", connection_id=host_back.id, data="welcome back")
        assert (await host_back.expect("received_message"))["data"] == "welcome back"
        for client in (host_back, back, cy):
            await client.assert_silent()


async def test_resume_while_the_old_socket_is_open_on_another_node(redis_url: str) -> None:
    """A token presented on another node takes the place over; the old socket closes with 4000."""
    async with open_cluster(redis_url, 2) as lab:
        host, started = await lab.host(0)
        bob, accepted = await lab.guest(0, host, started["lobby_id"], "Bob")
        again = await lab.client(1)
        await again.act("resume", token=accepted["guest_token"])
        assert (await again.expect("resumed"))["role"] == "guest"
        await bob.expect_closed(4000)
        resumed = await host.expect("guest_resumed")
        assert resumed["old_connection_id"] == bob.id
        await host.assert_silent()


async def test_a_relay_to_someone_gone_from_another_node_is_an_error(redis_url: str) -> None:
    """A relay to a guest whose node is gone gets unknown_connection, not silence."""
    async with open_cluster(redis_url, 2, node_timeout=scaled(30)) as lab:
        host, started = await lab.host(0)
        bob, _ = await lab.guest(1, host, started["lobby_id"], "Bob")
        # The guest's node stops listening on Redis without anyone applying its departures
        # yet (node_timeout is long): the lobby still lists the guest.
        link = lab.nodes[1].cluster
        assert link is not None
        await link.stop()
        await host.act("send_message", connection_id=bob.id, data="anyone?", ref="r1")
        error = await host.expect_error("unknown_connection", "send_message")
        assert error["ref"] == "r1"


async def test_timers_fire_once_across_nodes(redis_url: str) -> None:
    """A pending request's timeout and a guest's grace fire once though three nodes watch them."""
    async with open_cluster(
        redis_url, 3, pending_request_timeout=scaled(0.5), guest_grace=scaled(0.5)
    ) as lab:
        host, started = await lab.host(0)
        code = started["lobby_id"]
        waiting = await lab.joiner(1, host, code, "Slow")
        rejected = await waiting.expect("request_rejected")
        assert rejected["reason"] == "timeout"
        removed = await host.expect("request_removed")
        assert removed == {"connection_id": waiting.id, "reason": "timeout"}
        bob, _ = await lab.guest(2, host, code, "Bob")
        assert lab.nodes[2].abort_connection(bob.id)
        assert (await host.expect("guest_left"))["reason"] == "disconnected"
        assert (await host.expect("guest_left"))["reason"] == "lost"
        await host.assert_silent()
        await waiting.assert_silent()


async def test_a_dead_nodes_members_drop_and_resume_elsewhere(redis_url: str) -> None:
    """A node that stops heartbeating: another applies its guests' departures, once; they resume."""
    async with open_cluster(redis_url, 3, guest_grace=scaled(30)) as lab:
        host, started = await lab.host(0)
        code = started["lobby_id"]
        bob, accepted = await lab.guest(1, host, code, "Bob")
        cy, _ = await lab.guest(2, host, code, "Cy")
        link = lab.nodes[1].cluster
        assert link is not None
        await link.stop_as_if_killed()
        assert await host.expect("guest_left") == {
            "connection_id": bob.id,
            "reason": "disconnected",
        }
        back = await lab.client(2)
        await back.act("resume", token=accepted["guest_token"])
        assert (await back.expect("resumed"))["role"] == "guest"
        assert (await host.expect("guest_resumed"))["old_connection_id"] == bob.id
        reaped = sum(node.cluster.stats.nodes_reaped for node in lab.nodes if node.cluster)
        assert reaped == 1
        await host.assert_silent()
        await cy.assert_silent()


def _get(url: str, path: str) -> tuple[int, bytes]:
    """GET ``path`` on the node at websocket URL ``url`` (no proxy): status and body."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url.replace("ws://", "http://") + path, timeout=EVENT_TIMEOUT) as reply:
            return reply.status, reply.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _health(url: str) -> tuple[int, dict[str, object]]:
    code, body = _get(url, "healthz")
    return code, json.loads(body)


async def _until_health(url: str, status: str) -> dict[str, object]:
    """Ask /healthz until it says ``status`` (the node notices Redis within a heartbeat)."""
    async with asyncio.timeout(EVENT_TIMEOUT):
        while True:
            code, body = await asyncio.to_thread(_health, url)
            if body["status"] == status:
                assert code == (200 if status == "ok" else 503)
                return body
            await asyncio.sleep(scaled(0.05))  # polling an HTTP endpoint: nothing to wait on


async def test_redis_restart_degrades_then_recovers(
    redis_server: RedisServer, redis_url: str
) -> None:
    """Redis killed: /healthz says degraded, actions get server_unavailable; back: all works again."""
    async with open_cluster(redis_url, 2) as lab:
        host, _ = await lab.host(0)
        url = lab.nodes[0].url
        assert (await _until_health(url, "ok"))["connections"] == 1
        redis_server.stop()
        await _until_health(url, "degraded")
        await host.act("set_lobby_open", open=False, ref="x")
        await host.expect_error("server_unavailable", "set_lobby_open")
        redis_server.start()
        await _until_health(url, "ok")
        await _until_health(lab.nodes[1].url, "ok")
        # Redis came back empty (nothing is saved in the tests): the node closed the
        # sockets whose places were lost, so clients start over.
        await host.expect_closed(1012)
        again, started = await lab.host(0)
        bob, _ = await lab.guest(1, again, started["lobby_id"], "Bob")
        await bob.act("send_message", connection_id=again.id, data="back")
        assert (await again.expect("received_message"))["data"] == "back"
        _, body = await asyncio.to_thread(_get, lab.nodes[0].url, "metrics")
        metrics = body.decode()
        assert "lobbyhost_redis_up 1.0" in metrics
        assert "lobbyhost_redis_errors_total" in metrics


def _lambda(url: str, method: str, **fields: object) -> tuple[int, object]:
    """POST one Lambda RPC to the node at websocket URL ``url``: status and JSON (or text)."""
    body = json.dumps({"method": method, **fields}).encode()
    http_url = url.replace("ws://", "http://") + "lambda"  # a loopback node of this test
    request = urllib.request.Request(http_url, data=body)  # noqa: S310
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=EVENT_TIMEOUT) as reply:
            data = reply.read()
            return reply.status, json.loads(data) if data else None
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


async def test_dialect_channels_are_shared_by_the_nodes(redis_url: str) -> None:
    """A Lambda channel made on one node is read and answered on another (records in Redis)."""
    async with open_cluster(redis_url, 2) as lab:
        first, second = lab.nodes[0].url, lab.nodes[1].url
        status, created = await asyncio.to_thread(_lambda, first, "create_data_channel")
        assert status == 200 and isinstance(created, dict)
        channel = created["channel_id"]
        await asyncio.to_thread(_lambda, first, "create_offer", channel_id=channel, offer="o")
        assert await asyncio.to_thread(_lambda, second, "get_offer", channel_id=channel) == (
            200,
            {"offer": "o"},
        )
        await asyncio.to_thread(_lambda, second, "create_answer", channel_id=channel, answer="a")
        assert await asyncio.to_thread(_lambda, first, "get_answer", channel_id=channel) == (
            200,
            {"answer": "a"},
        )


async def test_a_node_does_not_start_without_redis(redis_server: RedisServer) -> None:
    """A node whose Redis cannot be reached refuses to start, with the URL in the error."""
    config = cluster_config("redis://127.0.0.1:1/0")
    with pytest.raises(BackendUnavailable, match=r"127\.0\.0\.1:1/"):
        async with serve(config):
            pass
