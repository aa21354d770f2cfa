"""A connection far over its action rate is closed instead of answered frame by frame."""

from __future__ import annotations

from signalling_server.config import Limits
from signalling_server.effects import CLOSE_OVER_RATE_LIMIT, CloseConnection
from tests.signalling_server.harness import Harness, accept, open_lobby

FLOOD_LIMITS = Limits(
    password_hash_iterations=1,
    actions_per_second=10,
    action_burst=2,
    rate_limited_frames_before_close=5,
)


def test_a_flood_is_refused_then_closed_with_1008_and_then_ignored() -> None:
    """Past the threshold of refused frames the connection closes; later frames cost nothing."""
    h = Harness(limits=FLOOD_LIMITS)
    client = h.client()
    for _ in range(2):
        client.act("ping", t="x")
        client.expect("pong")
    for _ in range(5):  # refused, and forgiven up to the threshold
        client.act("ping", t="x")
        client.expect_error("rate_limited", "ping")
    assert h.closes == []
    client.act("ping", t="x")
    client.assert_silent()
    assert h.closes == [
        CloseConnection(client.id, CLOSE_OVER_RATE_LIMIT, "far over the action rate limit")
    ]
    h.clock.advance(60)  # a closing connection stays ignored, budget or not
    client.act("ping", t="x")
    client.assert_silent()
    assert len(h.closes) == 1


def test_refusals_now_and_then_are_forgiven() -> None:
    """A client that slows down when refused is never closed."""
    h = Harness(limits=FLOOD_LIMITS)
    client = h.client()
    for _ in range(20):
        for _ in range(2):
            client.act("ping", t="x")
        for _ in range(4):
            client.act("ping", t="x")  # four refused each round, under the threshold of five
        h.clock.advance(1.0)  # a second refills both budgets
    assert h.closes == []


def test_a_flooding_guest_leaves_its_lobby_when_its_socket_closes() -> None:
    """The close is a normal disconnect afterwards: the host hears the guest left."""
    h = Harness(limits=Limits(password_hash_iterations=1, action_burst=500))
    host, lobby_id, _ = open_lobby(h)
    guest, _ = accept(h, host, lobby_id)
    for _ in range(1200):
        guest.act("ping", t="x")
    assert [close.connection_id for close in h.closes] == [guest.id]
    guest.disconnect()
    left = host.expect("guest_left")
    assert left == {"connection_id": guest.id, "reason": "disconnected"}
