"""The ``/lambda`` route handler in process: CORS, HTTP methods, bad bodies and the request budget."""

from __future__ import annotations

import json
from http import HTTPStatus

import pytest

from signalling_server.clock import ManualClock
from signalling_server.config import Limits, ServerConfig
from signalling_server.dialects.lambda_http import LambdaApi, LambdaEndpoint, LambdaRules
from signalling_server.http_routes import HttpReply, HttpRequest
from signalling_server.node import SignallingNode

INVALID_RPC = "Not a valid rpc. HTTP post body must be a json object with method key"


class Endpoint:
    """The Lambda route handler of a never-started node on a manual clock."""

    def __init__(self, requests_per_minute: int = 600) -> None:
        self.clock = ManualClock()
        limits = Limits(
            password_hash_iterations=1, http_requests_per_address_per_minute=requests_per_minute
        )
        self.node = SignallingNode(ServerConfig(limits=limits, web_root=None), clock=self.clock)
        rules = LambdaRules(self.node.registry)
        self.node.registry.add_dialect(rules)
        self.handler = LambdaEndpoint(self.node, LambdaApi(rules))

    def send(
        self,
        body: bytes = b"",
        method: str = "POST",
        *,
        client: str = "127.0.0.1",
        headers: tuple[tuple[str, str], ...] = (),
    ) -> HttpReply:
        return self.handler(HttpRequest(method, "/lambda", "", headers, body, client))

    @property
    def errors(self) -> dict[str, int]:
        return dict(self.node.registry.stats.errors)


def header(reply: HttpReply, name: str) -> str | None:
    return dict(reply.headers).get(name)


def test_options_is_the_cors_preflight() -> None:
    """OPTIONS answers 204, empty, allowing any origin, POST and the content-type header."""
    endpoint = Endpoint()
    reply = endpoint.send(method="OPTIONS", headers=(("origin", "http://game.example"),))
    assert (reply.status, reply.body) == (HTTPStatus.NO_CONTENT, b"")
    assert header(reply, "Access-Control-Allow-Origin") == "*"
    assert header(reply, "Access-Control-Allow-Methods") == "POST"
    assert header(reply, "Access-Control-Allow-Headers") == "content-type"


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
def test_other_methods_get_only_accept_post(method: str) -> None:
    """Any method but POST and OPTIONS is a 400 'Only accept POST method', with CORS, even with a valid body."""
    endpoint = Endpoint()
    reply = endpoint.send(b'{"method":"create_data_channel"}', method)
    assert (reply.status, reply.content_type) == (HTTPStatus.BAD_REQUEST, "text/plain")
    assert reply.body == b"Only accept POST method"
    assert header(reply, "Access-Control-Allow-Origin") == "*"
    assert endpoint.node.registry.dialect_room_count() == 0
    assert endpoint.errors == {"lambda_not_post": 1}


def test_head_gets_the_refusal_without_a_body() -> None:
    """HEAD is refused like GET, with no body, as HTTP requires."""
    reply = Endpoint().send(method="HEAD")
    assert (reply.status, reply.body) == (HTTPStatus.BAD_REQUEST, b"")
    assert header(reply, "Access-Control-Allow-Origin") == "*"


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b'{"method": "echo"',
        b"[]",
        b'["method"]',
        b'"method"',
        b"42",
        b"null",
        b"{}",
        b'{"channel_id": "x"}',
        b'{"method": "echo", "x": "\xff\xfe"}',
        b'{"method": "echo", "x": ' + b"[" * 50_000 + b"]" * 50_000 + b"}",
        b'{"method": "echo", "x": ' + b'{"a":' * 20_000 + b"1" + b"}" * 20_000 + b"}",
    ],
    ids=[
        "empty",
        "text",
        "truncated",
        "array",
        "array-with-method",
        "string",
        "number",
        "null",
        "no-method",
        "other-keys",
        "bad-utf8",
        "nested-arrays",
        "nested-objects",
    ],
)
def test_a_body_that_is_not_an_rpc_gets_the_original_text(body: bytes) -> None:
    """Not JSON, not an object, no method key, bad UTF-8 or nested too deep: 400 'Not a valid rpc...'."""
    endpoint = Endpoint()
    reply = endpoint.send(body)
    assert (reply.status, reply.content_type) == (HTTPStatus.BAD_REQUEST, "text/plain")
    assert reply.body.decode() == INVALID_RPC
    assert header(reply, "Access-Control-Allow-Origin") == "*"
    assert endpoint.errors == {"lambda_invalid_rpc": 1}


def test_any_content_type_is_read_as_json() -> None:
    """The body is JSON whatever Content-Type says (text/plain is what simple fetches send)."""
    endpoint = Endpoint()
    for content_type in ("text/plain;charset=UTF-8", "application/x-www-form-urlencoded", "x/y"):
        reply = endpoint.send(
            b'{"method":"create_data_channel"}', headers=(("content-type", content_type),)
        )
        assert reply.status == HTTPStatus.OK


def test_a_method_that_is_not_a_string_is_named_by_its_json() -> None:
    """A non-string method is unknown, named in the 400 text by its JSON."""
    endpoint = Endpoint()
    assert endpoint.send(b'{"method": ["echo"]}').body == b'unknown method ["echo"]'
    assert endpoint.send(b'{"method": 7}').body == b"unknown method 7"
    assert endpoint.errors == {"lambda_unknown_method": 2}


def test_every_answer_allows_any_origin_and_has_the_original_content_types() -> None:
    """JSON successes are application/json, empty successes and refusals text/plain; all carry CORS."""
    endpoint = Endpoint()
    created = endpoint.send(b'{"method":"create_data_channel"}')
    channel = json.loads(created.body)["channel_id"]
    offered = endpoint.send(
        json.dumps({"method": "create_offer", "channel_id": channel, "offer": "o"}).encode()
    )
    refused = endpoint.send(json.dumps({"method": "get_answer", "channel_id": channel}).encode())
    assert [(r.status, r.content_type, r.body) for r in (offered, refused)] == [
        (HTTPStatus.OK, "text/plain", b""),
        (HTTPStatus.BAD_REQUEST, "text/plain", b"answer not found"),
    ]
    assert created.content_type == "application/json"
    for reply in (created, offered, refused):
        assert header(reply, "Access-Control-Allow-Origin") == "*"
    assert endpoint.errors == {"lambda_answer_not_found": 1}


def test_the_request_budget_is_per_address_and_refills() -> None:
    """Past the per-address budget: 429 with CORS; other addresses and preflights go on; a minute later it is back."""
    endpoint = Endpoint(requests_per_minute=3)
    echo = b'{"method":"echo"}'
    assert [endpoint.send(echo).status for _ in range(3)] == [HTTPStatus.OK] * 3
    refused = endpoint.send(echo)
    assert refused.status == HTTPStatus.TOO_MANY_REQUESTS
    assert header(refused, "Access-Control-Allow-Origin") == "*"
    assert endpoint.send(method="GET").status == HTTPStatus.TOO_MANY_REQUESTS
    assert endpoint.send(method="OPTIONS").status == HTTPStatus.NO_CONTENT
    assert endpoint.send(echo, client="127.0.0.2").status == HTTPStatus.OK
    assert endpoint.errors == {"lambda_rate_limited": 2}
    endpoint.clock.advance(60)
    assert endpoint.send(echo).status == HTTPStatus.OK
