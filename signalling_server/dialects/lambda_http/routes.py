"""``/lambda`` over HTTP: CORS, the POST-only rule, the request budget, replies.

Every answer carries ``Access-Control-Allow-Origin: *`` so browser clients on
any origin can read it, refusals included. ``OPTIONS`` is the CORS preflight
(204) and costs no request budget; every other method spends one request of
the client address's budget (429 over it: what the original's host, AWS,
answers a throttled call). Only ``POST`` reaches the method API; the other
methods the original's function would have seen get its 400 text.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import TYPE_CHECKING, Final, assert_never

from ...http_routes import NOSNIFF, HttpReply, HttpRequest
from .rpc import EmptyResult, JsonResult, LambdaApi, RefusedResult

if TYPE_CHECKING:
    from ...node import SignallingNode

PATH: Final = "/lambda"
#: Methods answered on :data:`PATH` (others get the router's 405).
ANSWERED_METHODS: Final = ("POST", "OPTIONS", "GET", "HEAD", "PUT", "DELETE", "PATCH")
ONLY_POST: Final = "Only accept POST method"
RATE_LIMITED: Final = "Rate Exceeded."

_ALLOW_ANY_ORIGIN: Final = ("Access-Control-Allow-Origin", "*")
_HEADERS: Final = (_ALLOW_ANY_ORIGIN, NOSNIFF)
_PREFLIGHT_HEADERS: Final = (
    _ALLOW_ANY_ORIGIN,
    ("Access-Control-Allow-Methods", "POST"),
    ("Access-Control-Allow-Headers", "content-type"),
)
_TEXT: Final = "text/plain"
_JSON: Final = "application/json"


class LambdaEndpoint:
    """The route handler of ``/lambda``; each request is one unit of work of the node."""

    def __init__(self, node: SignallingNode, api: LambdaApi) -> None:
        self._node = node
        self._api = api

    def __call__(self, request: HttpRequest) -> HttpReply:
        if request.method == "OPTIONS":
            return HttpReply(HTTPStatus.NO_CONTENT, _TEXT, b"", _PREFLIGHT_HEADERS)
        reply = self._node.run(lambda: self._answer(request))
        if request.method == "HEAD":
            return HttpReply(reply.status, reply.content_type, b"", reply.headers)
        return reply

    def _answer(self, request: HttpRequest) -> HttpReply:
        registry = self._node.registry
        if not registry.take_http_request(request.client):
            registry.stats.errors["lambda_rate_limited"] += 1
            return _text(HTTPStatus.TOO_MANY_REQUESTS, RATE_LIMITED)
        if request.method != "POST":
            registry.stats.errors["lambda_not_post"] += 1
            return _text(HTTPStatus.BAD_REQUEST, ONLY_POST)
        match self._api.call(request.body):
            case JsonResult(body):
                return HttpReply(HTTPStatus.OK, _JSON, body, _HEADERS)
            case EmptyResult():
                return _text(HTTPStatus.OK, "")
            case RefusedResult(text, code):
                registry.stats.errors[code] += 1
                return _text(HTTPStatus.BAD_REQUEST, text)
            case unexpected:
                assert_never(unexpected)


def _text(status: HTTPStatus, text: str) -> HttpReply:
    return HttpReply(status, _TEXT, text.encode(), _HEADERS)


__all__ = ["ANSWERED_METHODS", "ONLY_POST", "PATH", "RATE_LIMITED", "LambdaEndpoint"]
