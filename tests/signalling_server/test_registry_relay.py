"""Domain tests: relays between host and guests, and who may do what."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from .harness import Client, Harness, accept, join, open_lobby

CANDIDATE = {"candidate": "candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host", "sdpMid": "0"}
OFFER = {"type": "offer", "sdp": "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n"}


@dataclass
class Scene:
    """A lobby with a host, two guests and a pending joiner, plus an idle client and
    a second lobby with its own host and guest."""

    h: Harness
    host: Client
    guest: Client
    guest2: Client
    pending: Client
    idle: Client
    other_host: Client
    other_guest: Client


@pytest.fixture
def scene() -> Scene:
    h = Harness()
    host, code, _ = open_lobby(h)
    guest, _ = accept(h, host, code, "Bob")
    guest2, _ = accept(h, host, code, "Cy")
    pending = join(h, host, code, "Dee")
    idle = h.client("127.0.0.3")
    other_host = h.client("127.0.0.4")
    other_host.act("start_lobby")
    other_code = other_host.expect("lobby_started")["lobby_id"]
    other_guest, _ = accept(h, other_host, other_code, "Eve")
    return Scene(h, host, guest, guest2, pending, idle, other_host, other_guest)


def test_relays_flow_host_to_guest_and_back_with_real_sender_id(scene: Scene) -> None:
    """SDP, ICE (and end-of-candidates) and messages reach the target, stamped with the sender."""
    s = scene
    s.host.act("set_session_description", connection_id=s.guest.id, description=OFFER)
    assert s.guest.expect("received_session_description") == {
        "connection_id": s.host.id,
        "description": OFFER,
    }
    s.guest.act("send_ice_candidate", connection_id=s.host.id, candidate=CANDIDATE)
    assert s.host.expect("received_ice_candidate") == {
        "connection_id": s.guest.id,
        "candidate": CANDIDATE,
    }
    s.guest.act("send_ice_candidate", connection_id=s.host.id, candidate=None)
    assert s.host.expect("received_ice_candidate") == {
        "connection_id": s.guest.id,
        "candidate": None,
    }
    s.guest.act("send_message", connection_id=s.host.id, data={"chat": "hi"})
    assert s.host.expect("received_message") == {
        "connection_id": s.guest.id,
        "data": {"chat": "hi"},
    }
    s.h.assert_all_silent()
    assert s.h.registry.stats.relayed == 4


def test_host_message_to_star_reaches_every_guest_only(scene: Scene) -> None:
    """send_message to "*" from the host reaches every accepted guest and nobody else."""
    s = scene
    s.host.act("send_message", connection_id="*", data="start!")
    for guest in (s.guest, s.guest2):
        assert guest.expect("received_message") == {"connection_id": s.host.id, "data": "start!"}
    s.h.assert_all_silent()


def test_sender_id_cannot_be_spoofed(scene: Scene) -> None:
    """A connection_id the sender puts elsewhere in the frame changes nothing about the sender."""
    s = scene
    s.guest.raw(
        json.dumps(
            {
                "action": "send_message",
                "connection_id": s.guest2.id,
                "content": {"connection_id": s.host.id, "data": 1, "from": s.guest2.id},
            }
        )
    )
    assert s.host.expect("received_message")["connection_id"] == s.guest.id


Act = Callable[[Scene], tuple[Client, str, dict[str, Any]]]

# Who may do what: (caller, action, content) -> error code. Each row is a rule of protocol.md.
RULES: list[tuple[str, Act, str]] = [
    # Relays flow only between a host and a guest it accepted, in the same lobby.
    (
        "pending cannot signal",
        lambda s: (
            s.pending,
            "send_ice_candidate",
            {"connection_id": s.host.id, "candidate": None},
        ),
        "not_accepted",
    ),
    (
        "idle cannot signal",
        lambda s: (
            s.idle,
            "set_session_description",
            {"connection_id": s.host.id, "description": OFFER},
        ),
        "not_in_lobby",
    ),
    (
        "guest cannot signal guest",
        lambda s: (s.guest, "send_message", {"connection_id": s.guest2.id, "data": 1}),
        "unknown_connection",
    ),
    (
        "guest cannot signal another lobby",
        lambda s: (s.guest, "send_message", {"connection_id": s.other_host.id, "data": 1}),
        "unknown_connection",
    ),
    (
        "host cannot signal another lobby's guest",
        lambda s: (
            s.host,
            "send_ice_candidate",
            {"connection_id": s.other_guest.id, "candidate": None},
        ),
        "unknown_connection",
    ),
    (
        "host cannot signal its pending joiner",
        lambda s: (
            s.host,
            "set_session_description",
            {"connection_id": s.pending.id, "description": OFFER},
        ),
        "not_accepted",
    ),
    (
        "host cannot signal itself",
        lambda s: (s.host, "send_message", {"connection_id": s.host.id, "data": 1}),
        "unknown_connection",
    ),
    (
        "guest cannot broadcast",
        lambda s: (s.guest, "send_message", {"connection_id": "*", "data": 1}),
        "not_host",
    ),
    (
        "star is only for messages",
        lambda s: (s.host, "send_ice_candidate", {"connection_id": "*", "candidate": None}),
        "unknown_connection",
    ),
    # Host-only actions, on its own lobby.
    (
        "guest cannot accept",
        lambda s: (s.guest, "accept_request", {"connection_id": s.pending.id}),
        "not_host",
    ),
    (
        "pending cannot accept",
        lambda s: (s.pending, "accept_request", {"connection_id": s.pending.id}),
        "not_accepted",
    ),
    (
        "idle cannot accept",
        lambda s: (s.idle, "accept_request", {"connection_id": s.pending.id}),
        "not_in_lobby",
    ),
    (
        "other host cannot accept",
        lambda s: (s.other_host, "accept_request", {"connection_id": s.pending.id}),
        "unknown_connection",
    ),
    (
        "guest cannot reject",
        lambda s: (s.guest, "reject_join_request", {"connection_id": s.pending.id}),
        "not_host",
    ),
    (
        "other host cannot reject",
        lambda s: (s.other_host, "reject_join_request", {"connection_id": s.pending.id}),
        "unknown_connection",
    ),
    (
        "guest cannot kick",
        lambda s: (s.guest, "kick_guest", {"connection_id": s.guest2.id}),
        "not_host",
    ),
    (
        "other host cannot kick",
        lambda s: (s.other_host, "kick_guest", {"connection_id": s.guest.id}),
        "unknown_connection",
    ),
    ("guest cannot close", lambda s: (s.guest, "close_lobby", {}), "not_host"),
    ("idle cannot close", lambda s: (s.idle, "close_lobby", {}), "not_in_lobby"),
    ("guest cannot lock", lambda s: (s.guest, "set_lobby_open", {"open": False}), "not_host"),
    (
        "accept an accepted guest",
        lambda s: (s.host, "accept_request", {"connection_id": s.guest.id}),
        "unknown_connection",
    ),
    # State rules.
    ("host cannot start another", lambda s: (s.host, "start_lobby", {}), "already_in_lobby"),
    (
        "guest cannot join another",
        lambda s: (s.guest, "join_lobby", {"lobby_id": "ZZZZZZ"}),
        "already_in_lobby",
    ),
    (
        "pending cannot join twice",
        lambda s: (s.pending, "join_lobby", {"lobby_id": "ZZZZZZ"}),
        "already_in_lobby",
    ),
    ("guest cannot resume", lambda s: (s.guest, "resume", {"token": "x.y"}), "already_in_lobby"),
    ("idle cannot cancel", lambda s: (s.idle, "cancel_join", {}), "not_in_lobby"),
    ("guest cannot cancel", lambda s: (s.guest, "cancel_join", {}), "not_in_lobby"),
    ("idle cannot leave", lambda s: (s.idle, "leave_lobby", {}), "not_in_lobby"),
    ("pending cannot leave", lambda s: (s.pending, "leave_lobby", {}), "not_accepted"),
    ("host cannot leave", lambda s: (s.host, "leave_lobby", {}), "not_host"),
    ("idle has no lobby info", lambda s: (s.idle, "get_lobby_info", {}), "not_in_lobby"),
    ("pending has no lobby info", lambda s: (s.pending, "get_lobby_info", {}), "not_accepted"),
]


@pytest.mark.parametrize(("rule", "act", "code"), RULES, ids=[r[0] for r in RULES])
def test_authorisation_rule(scene: Scene, rule: str, act: Act, code: str) -> None:
    """Each rule of who may do what answers its error code and tells nobody else anything."""
    caller, action, content = act(scene)
    caller.act(action, ref="r", **content)
    error = caller.expect_error(code, action)
    assert error["ref"] == "r"
    scene.h.assert_all_silent()
