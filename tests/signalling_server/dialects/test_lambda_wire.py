"""``/lambda`` over real sockets: a server on 127.0.0.1 port 0 and real HTTP clients."""

from __future__ import annotations

import asyncio
import http.client
import json
from dataclasses import dataclass
from typing import Any

from signalling_server import serve
from signalling_server.backend import MemoryBackend
from signalling_server.clock import ManualClock
from signalling_server.config import Limits, ServerConfig
from signalling_server.dialects.lambda_http.channels import RECORD_KIND
from tests.signalling_server.transport_harness import RawAnswer, http_exchange, http_request
from tests.timeouts import scaled

EVENT_TIMEOUT = scaled(5.0)
INVALID_RPC = b"Not a valid rpc. HTTP post body must be a json object with method key"


def config(*, scale: float = 1.0, limits: Limits | None = None) -> ServerConfig:
    return ServerConfig(
        port=0,
        dialect_time_scale=scale,
        limits=limits or Limits(password_hash_iterations=1),
        web_root=None,
    )


async def post(
    port: int,
    body: bytes | dict[str, Any],
    *,
    method: str = "POST",
    path: str = "/lambda",
    address: str = "127.0.0.1",
) -> RawAnswer:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = ("Content-Type", "text/plain;charset=UTF-8")
    return await http_exchange(port, http_request(method, path, data, headers), address=address)


async def channel_count(port: int) -> int:
    answer = await http_exchange(port, http_request("GET", "/healthz"))
    lobbies: int = json.loads(answer.body)["lobbies"]
    return lobbies


@dataclass
class BrowserLikePeer:
    """A client as the original's users wrote them: JSON POSTs with http.client, one per call."""

    port: int

    def call(self, method: str, **fields: Any) -> tuple[int, str, bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=EVENT_TIMEOUT)
        try:
            body = json.dumps({"method": method, **fields})
            connection.request("POST", "/lambda", body, {"Content-Type": "application/json"})
            response = connection.getresponse()
            assert response.getheader("Access-Control-Allow-Origin") == "*"
            return response.status, response.getheader("Content-Type", ""), response.read()
        finally:
            connection.close()

    def ok(self, method: str, **fields: Any) -> Any:
        status, content_type, body = self.call(method, **fields)
        assert status == 200, body
        return json.loads(body) if content_type == "application/json" else body.decode()


def signal(port: int) -> tuple[Any, ...]:
    """Peer A offers and trickles; peer B takes the offer, trickles and answers; both poll."""
    a, b = BrowserLikePeer(port), BrowserLikePeer(port)
    channel = a.ok("create_data_channel")["channel_id"]
    assert a.ok("create_offer", channel_id=channel, offer="offer-sdp") == ""
    a.ok("create_candidate", channel_id=channel, candidate={"candidate": "a", "sdpMid": "0"})
    waiting = a.call("get_answer", channel_id=channel)
    offer = b.ok("get_offer", channel_id=channel)
    b.ok("create_candidate", channel_id=channel, candidate={"candidate": "b", "sdpMid": "0"})
    b.ok("create_answer", channel_id=channel, answer="answer-sdp")
    return (
        waiting,
        offer,
        a.ok("get_answer", channel_id=channel),
        a.ok("get_candidates", channel_id=channel),
        b.ok("get_candidates", channel_id=channel),
    )


async def test_two_peers_signal_through_a_real_server() -> None:
    """The original client's whole flow over HTTP: offer, answer and both peers' candidates."""
    async with serve(config()) as server:
        waiting, offer, answer, seen_by_a, seen_by_b = await asyncio.to_thread(signal, server.port)
        assert await channel_count(server.port) == 1
    assert waiting == (400, "text/plain", b"answer not found")
    assert offer == {"offer": "offer-sdp"}
    assert answer == {"answer": "answer-sdp"}
    both = [{"candidate": "a", "sdpMid": "0"}, {"candidate": "b", "sdpMid": "0"}]
    assert seen_by_a == seen_by_b == {"items": both}


async def test_preflight_other_methods_and_subpaths_over_http() -> None:
    """OPTIONS is a 204 preflight; GET/PUT/DELETE/PATCH get 'Only accept POST method'; /lambda/x is served too."""
    async with serve(config()) as server:
        preflight = await post(server.port, b"", method="OPTIONS")
        refusals = [
            await post(server.port, {"method": "echo"}, method=method)
            for method in ("GET", "PUT", "DELETE", "PATCH")
        ]
        echoed = await post(server.port, {"method": "echo", "n": 1}, path="/lambda/prod")
    assert preflight.status == 204
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert preflight.headers["access-control-allow-methods"] == "POST"
    assert preflight.headers["access-control-allow-headers"] == "content-type"
    for refusal in refusals:
        assert (refusal.status, refusal.body) == (400, b"Only accept POST method")
        assert refusal.headers["access-control-allow-origin"] == "*"
        assert refusal.headers["content-type"] == "text/plain"
    assert (echoed.status, json.loads(echoed.body)) == (200, {"method": "echo", "n": 1})


class WatchedBackend(MemoryBackend):
    """A memory backend that says when a Lambda channel's record is deleted."""

    def __init__(self) -> None:
        super().__init__(copies=True)
        self.channel_removed = asyncio.Event()

    def remove_record(self, kind: str, key: str) -> None:
        super().remove_record(kind, key)
        if kind == RECORD_KIND:
            self.channel_removed.set()


async def test_the_expiry_timer_deletes_a_channel_on_a_scaled_clock() -> None:
    """With dialect_time_scale 0.002 a channel lives 0.6 s; its timer deletes it and reads say not found."""
    backend = WatchedBackend()
    async with serve(config(scale=0.002), backend=backend) as server:
        created = await post(server.port, {"method": "create_data_channel"})
        channel = json.loads(created.body)["channel_id"]
        async with asyncio.timeout(EVENT_TIMEOUT):
            await backend.channel_removed.wait()
        gone = await post(server.port, {"method": "get_candidates", "channel_id": channel})
        assert await channel_count(server.port) == 0
    assert (gone.status, gone.body) == (400, b"channel_id not found")
    assert gone.headers["access-control-allow-origin"] == "*"


async def test_expiry_is_strict_over_http_before_any_timer_runs() -> None:
    """On an injected clock with scale 0.5, the channel answers at 149.9 s and is not found at 150 s."""
    clock = ManualClock()
    async with serve(config(scale=0.5), clock=clock) as server:
        created = await post(server.port, {"method": "create_data_channel"})
        channel = json.loads(created.body)["channel_id"]
        assert await channel_count(server.port) == 1
        clock.advance(149.9)
        alive = await post(server.port, {"method": "get_offer", "channel_id": channel})
        clock.advance(0.1)
        gone = await post(server.port, {"method": "get_offer", "channel_id": channel})
    assert (alive.status, alive.body) == (400, b"offer not found")
    assert (gone.status, gone.body) == (400, b"channel_id not found")


async def test_the_request_budget_answers_429_per_address() -> None:
    """Past http_requests_per_address_per_minute an address gets 429 (with CORS); another is still served."""
    limits = Limits(password_hash_iterations=1, http_requests_per_address_per_minute=2)
    async with serve(config(limits=limits)) as server:
        statuses = [(await post(server.port, {"method": "echo"})).status for _ in range(2)]
        refused = await post(server.port, {"method": "echo"})
        other = await post(server.port, {"method": "echo"}, address="127.0.0.2")
    assert statuses == [200, 200]
    assert refused.status == 429
    assert refused.headers["access-control-allow-origin"] == "*"
    assert other.status == 200


async def test_a_channel_holds_at_most_256_candidates_over_http() -> None:
    """The 257th candidate of a channel is refused with 'fail to create candidate'; 256 come back."""
    async with serve(config()) as server:
        statuses = [
            (
                await post(
                    server.port,
                    {"method": "create_candidate", "channel_id": "c", "candidate": index},
                )
            ).status
            for index in range(256)
        ]
        refused = await post(
            server.port, {"method": "create_candidate", "channel_id": "c", "candidate": "one more"}
        )
        listed = await post(server.port, {"method": "get_candidates", "channel_id": "c"})
    assert statuses == [200] * 256
    assert (refused.status, refused.body) == (400, b"fail to create candidate")
    assert json.loads(listed.body) == {"items": list(range(256))}


async def test_bad_bodies_never_break_the_server() -> None:
    """Non-JSON, non-object and deeply nested bodies get 400; an oversize one 413; the server answers on."""
    async with serve(config()) as server:
        port = server.port
        nested = b'{"method":"echo","x":' + b"[" * 30_000 + b"]" * 30_000 + b"}"
        answers = [
            await post(port, body)
            for body in (b"\x00\x01binary", b"[1, 2]", b'"create_data_channel"', nested)
        ]
        huge = await post(port, b'{"method":"echo","x":"' + b"x" * 70_000 + b'"}')
        after = await post(port, {"method": "create_data_channel"})
    assert [(answer.status, answer.body) for answer in answers] == [(400, INVALID_RPC)] * 4
    assert huge.status == 413
    assert after.status == 200
