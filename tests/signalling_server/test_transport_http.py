"""The HTTP side of the transport: routing, bodies and refusals, over real sockets on 127.0.0.1."""

from __future__ import annotations

import asyncio
from http import HTTPStatus

import pytest

from signalling_server import Limits, Timeouts, __version__, serve
from signalling_server.http_routes import HttpReply, HttpRequest
from signalling_server.transport import HttpRouter
from tests.signalling_server.transport_harness import (
    EVENT_TIMEOUT,
    EchoNode,
    http_exchange,
    http_request,
    running_listener,
    transport_config,
)
from tests.timeouts import scaled


def text_reply(text: str, status: HTTPStatus = HTTPStatus.OK) -> HttpReply:
    return HttpReply(status, "text/plain; charset=utf-8", text.encode())


class Recorder:
    """A route handler that remembers the requests it was given."""

    def __init__(self) -> None:
        self.requests: list[HttpRequest] = []

    def __call__(self, request: HttpRequest) -> HttpReply:
        self.requests.append(request)
        return text_reply(f"got {len(request.body)} bytes: {request.body.decode()}")


async def test_post_body_reaches_a_registered_route() -> None:
    """A POST added with http_routes.add gets method, path, query, headers, body and client; its reply comes back."""
    handler = Recorder()
    async with serve(transport_config()) as server:
        server.http_routes.add("POST", "/custom", handler)
        request = http_request("POST", "/custom?x=1&y=2", b'{"n": 1}', ("X-Test", "yes"))
        answer = await http_exchange(server.port, request, address="127.0.0.9")
    assert answer.status == 200
    assert answer.body == b'got 8 bytes: {"n": 1}'
    assert answer.headers["server"] == f"lobbyhost/{__version__}"
    assert answer.headers["connection"] == "close"
    [seen] = handler.requests
    assert (seen.method, seen.path, seen.query) == ("POST", "/custom", "x=1&y=2")
    assert seen.body == b'{"n": 1}'
    assert seen.client == "127.0.0.9"
    assert seen.header("x-test") == "yes" and seen.header("X-TEST") == "yes"


async def test_awaitable_handler_reply_comes_back() -> None:
    """A handler may return an awaitable: the connection waits for it and sends its reply."""
    release = asyncio.Event()

    async def slow(request: HttpRequest) -> HttpReply:
        await release.wait()
        return text_reply("done")

    router = HttpRouter()
    router.add("POST", "/slow", slow)
    async with running_listener(EchoNode(), router=router) as listener:
        exchange = asyncio.create_task(
            http_exchange(listener.port, http_request("POST", "/slow", b"x"))
        )
        release.set()
        answer = await exchange
    assert (answer.status, answer.body) == (200, b"done")


async def test_oversize_body_is_413_and_never_reaches_the_handler() -> None:
    """A Content-Length above max_body_bytes answers 413 before the body is read; the handler never runs."""
    handler = Recorder()
    router = HttpRouter()
    router.add("POST", "/lambda", handler)
    config = transport_config(limits=Limits(max_body_bytes=1024))
    async with running_listener(EchoNode(), config, router) as listener:
        big = http_request("POST", "/lambda", b"x" * 200_000)
        answer = await http_exchange(listener.port, big)
        assert answer.status == 413
        assert b"1024" in answer.body
        at_limit = await http_exchange(listener.port, http_request("POST", "/lambda", b"y" * 1024))
        assert at_limit.status == 200
    assert [len(request.body) for request in handler.requests] == [1024]


async def test_expect_100_continue_is_answered_before_the_body() -> None:
    """A client that waits for 100 Continue before its body is told to go on, then answered."""
    handler = Recorder()
    router = HttpRouter()
    router.add("POST", "/lambda", handler)
    head = (
        b"POST /lambda HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\n"
        b"Expect: 100-continue\r\n\r\n"
    )
    async with running_listener(EchoNode(), router=router) as listener:
        reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
        async with asyncio.timeout(EVENT_TIMEOUT):
            writer.write(head)
            assert await reader.readuntil(b"\r\n\r\n") == b"HTTP/1.1 100 Continue\r\n\r\n"
            writer.write(b"hello")
            answer = await reader.read()
        writer.close()
        await writer.wait_closed()
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
    assert answer.endswith(b"got 5 bytes: hello")


async def test_chunked_body_is_411() -> None:
    """A chunked body (no Content-Length) answers 411 Length Required; the handler never runs."""
    handler = Recorder()
    router = HttpRouter()
    router.add("POST", "/lambda", handler)
    chunked = (
        b"POST /lambda HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n0\r\n\r\n"
    )
    async with running_listener(EchoNode(), router=router) as listener:
        answer = await http_exchange(listener.port, chunked)
    assert answer.status == 411
    assert handler.requests == []


async def test_unknown_path_is_404_with_nosniff() -> None:
    """An unknown path answers 404 text that browsers may not sniff as HTML."""
    async with serve(transport_config()) as server:
        answer = await http_exchange(server.port, http_request("GET", "/<script>"))
    assert answer.status == 404
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["content-type"] == "text/plain; charset=utf-8"


async def test_wrong_method_is_405_with_allow() -> None:
    """A known path asked with another method answers 405 and names the methods it takes."""
    async with serve(transport_config()) as server:
        server.http_routes.add("POST", "/healthz", Recorder())
        server.http_routes.add("GET", "/custom", Recorder())
        server.http_routes.add("POST", "/custom", Recorder())
        health = await http_exchange(server.port, http_request("DELETE", "/healthz"))
        both = await http_exchange(server.port, http_request("PUT", "/custom", b"x"))
        metrics = await http_exchange(server.port, http_request("POST", "/metrics", b"x"))
    assert (health.status, health.headers["allow"]) == (405, "GET, POST")
    assert (both.status, both.headers["allow"]) == (405, "GET, POST")
    assert (metrics.status, metrics.headers["allow"]) == (405, "GET")


async def test_failing_handler_is_500_and_the_server_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A handler that raises answers 500 (logged with its traceback); the next request is served."""

    def broken(request: HttpRequest) -> HttpReply:
        raise RuntimeError("handler bug")

    async with serve(transport_config()) as server:
        server.http_routes.add("GET", "/broken", broken)
        answer = await http_exchange(server.port, http_request("GET", "/broken"))
        health = await http_exchange(server.port, http_request("GET", "/healthz"))
    assert answer.status == 500
    assert b"handler bug" not in answer.body
    assert "handler bug" in caplog.text
    assert health.status == 200


async def test_reply_header_with_a_line_break_is_never_sent() -> None:
    """A handler whose header would split the response (CR LF) gets a 500 instead: nothing is injected."""

    def injecting(request: HttpRequest) -> HttpReply:
        return HttpReply(HTTPStatus.OK, "text/plain", b"ok", (("X-Next", "a\r\nSet-Cookie: x=1"),))

    router = HttpRouter()
    router.add("GET", "/inject", injecting)
    async with running_listener(EchoNode(), router=router) as listener:
        answer = await http_exchange(listener.port, http_request("GET", "/inject"))
    assert answer.status == 500
    assert "set-cookie" not in answer.headers and "x-next" not in answer.headers


async def test_malformed_request_is_400() -> None:
    """Bytes that are not an HTTP request answer 400 and close."""
    async with running_listener(EchoNode()) as listener:
        answer = await http_exchange(listener.port, b"NOT HTTP AT ALL\r\n\r\n")
    assert answer.status == 400


async def test_a_silent_connection_is_closed_after_request_timeout() -> None:
    """A client that connects and sends nothing is disconnected after request_timeout."""
    config = transport_config(timeouts=Timeouts(request_timeout=scaled(0.1)))
    async with running_listener(EchoNode(), config) as listener:
        reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
        async with asyncio.timeout(EVENT_TIMEOUT):
            assert await reader.read() == b""
        writer.close()
        await writer.wait_closed()
        assert listener.connection_count == 0


# The router alone (pure) -----------------------------------------------------------------


def _request(method: str, path: str) -> HttpRequest:
    return HttpRequest(method, path, "", (), b"", "127.0.0.1")


def test_router_prefers_exact_paths_then_the_longest_prefix() -> None:
    """An exact route beats a prefix route, and a longer prefix beats a shorter one."""
    router = HttpRouter()
    router.add("GET", "/web/", lambda r: text_reply("prefix"), prefix=True)
    router.add("GET", "/web/special/", lambda r: text_reply("longer"), prefix=True)
    router.add("GET", "/web/app.js", lambda r: text_reply("exact"))
    bodies = {
        path: reply.body
        for path in ("/web/x.css", "/web/special/y", "/web/app.js")
        if isinstance(reply := router.dispatch(_request("GET", path)), HttpReply)
    }
    assert bodies == {"/web/x.css": b"prefix", "/web/special/y": b"longer", "/web/app.js": b"exact"}
    assert router.methods("/web/anything") == {"GET"}
    assert router.methods("/elsewhere") == frozenset()


def test_router_refuses_a_second_handler_for_the_same_route() -> None:
    """Adding the same method and path twice is a programming error, not a silent override."""
    router = HttpRouter()
    router.add("post", "/lambda", Recorder())
    with pytest.raises(ValueError, match="POST /lambda"):
        router.add("POST", "/lambda", Recorder())
    with pytest.raises(ValueError, match="starts with '/'"):
        router.add("GET", "lambda", Recorder())
