"""What the socket adds to limits: frame sizes, binary frames, compression, a timer, addresses.

A real server on 127.0.0.1 port 0 and real websocket clients. The limits as
rules (rate budgets, lobbies per address, malformed JSON) are proven without
sockets in test_registry_limits.py and test_registry_frames.py.
"""

from __future__ import annotations

from signalling_server import Limits
from tests.signalling_server.wsclient import SHORT, Lab, open_lab, short_timeouts


async def test_unanswered_request_times_out() -> None:
    """A request left unanswered is rejected with reason timeout and removed at the host."""
    async with open_lab(timeouts=short_timeouts(pending_request_timeout=SHORT)) as lab:
        host, started = await lab.host()
        code = started["lobby_id"]
        bob = await lab.joiner(host, code, "Bob")
        assert await bob.expect("request_rejected") == {"lobby_id": code, "reason": "timeout"}
        assert await host.expect("request_removed") == {
            "connection_id": bob.id,
            "reason": "timeout",
        }
        await host.act("accept_request", connection_id=bob.id)
        await host.expect_error("unknown_connection", "accept_request")
        await bob.assert_silent()


async def test_join_attempts_per_address_per_minute() -> None:
    """Join attempts past the per-address budget get rate_limited, even on a new connection."""
    limits = Limits(joins_per_address_per_minute=3, password_hash_iterations=1)
    async with open_lab(limits=limits) as lab:
        host, started = await lab.host()
        guesser = await lab.client("127.0.0.77")
        for guess in ("AAAAAA", "BBBBBB", "CCCCCC"):
            await guesser.act("join_lobby", lobby_id=guess, name="Guesser")
            await guesser.expect_error("lobby_not_found", "join_lobby")
        await guesser.act("join_lobby", lobby_id=started["lobby_id"], name="Guesser")
        await guesser.expect_error("rate_limited", "join_lobby")
        again = await lab.client("127.0.0.77")
        await again.act("join_lobby", lobby_id=started["lobby_id"], name="Guesser")
        await again.expect_error("rate_limited", "join_lobby")
        await host.assert_silent()

        honest = await lab.client("127.0.0.78")
        await honest.act("join_lobby", lobby_id=started["lobby_id"], name="Honest")
        await honest.expect("join_requested")
        await host.expect("request_to_join")


async def test_frame_above_max_frame_bytes_is_refused() -> None:
    """A frame over max_frame_bytes gets message_too_large and the connection stays usable."""
    limits = Limits(max_frame_bytes=1024, hard_frame_bytes=4096, password_hash_iterations=1)
    async with open_lab(limits=limits) as lab:
        client = await lab.client()
        await client.act("ping", t="x" * 2000)
        await client.expect_error("message_too_large")
        await client.act("ping", t="x" * 900)
        assert await client.expect("pong") == {"t": "x" * 900}
        await client.assert_silent()


async def test_frame_above_hard_frame_bytes_closes_with_1009() -> None:
    """A frame over hard_frame_bytes closes the connection with 1009 (message too big)."""
    limits = Limits(max_frame_bytes=1024, hard_frame_bytes=4096, password_hash_iterations=1)
    async with open_lab(limits=limits) as lab:
        client = await lab.client()
        await client.act("ping", t="x" * 5000)
        await client.expect_closed(1009)


async def test_binary_frame_is_invalid_message(lab: Lab) -> None:
    """A binary frame gets invalid_message and the connection stays usable."""
    client = await lab.client()
    await client.raw(b'{"action": "ping", "content": {}}')
    await client.expect_error("invalid_message")
    await client.assert_silent()


async def test_server_declines_per_message_compression(lab: Lab) -> None:
    """A browser-like client offering permessage-deflate gets plain frames (no zlib state per socket)."""
    client = await lab.client()
    assert client.ws.response is not None
    assert "Sec-WebSocket-Extensions" not in client.ws.response.headers
    await client.assert_silent()
