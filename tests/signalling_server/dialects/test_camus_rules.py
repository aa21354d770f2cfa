"""The Camus rules in the core: rooms, members, ground control, relays, takeover and timers."""

from __future__ import annotations

from typing import Any

import pytest

from signalling_server.dialects.camus.outcomes import Creation, Entry, SocketAdmission
from signalling_server.dialects.camus.rules import CLOSE_TAKEN_OVER, CamusRules
from signalling_server.ice import IceConfig, TurnSecretServer, TurnServer
from signalling_server.registry import LobbyRegistry
from tests.signalling_server.dialects.camus_harness import (
    GROUND_CONTROL,
    CamusLab,
    Socket,
    frame,
)

OFFER = {"type": "offer", "sdp": "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\n"}
ANSWER = {"type": "answer", "sdp": "v=0\r\no=- 3 4 IN IP4 127.0.0.1\r\ns=-\r\n"}
CANDIDATE = {"candidate": "candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host", "sdpMid": "0"}
TEXT = {"from": "Ann", "time": 1700000000000, "text": "hello <b>all</b>"}


def _info(lab: CamusLab, socket: Socket) -> list[dict[str, Any]]:
    [reply] = lab.say(socket, GROUND_CONTROL, "get-room-info").to(socket)
    clients: list[dict[str, Any]] = reply["data"]["clients"]
    return clients


# Rooms and members ------------------------------------------------------------------------------


def test_a_room_is_made_once_per_slug() -> None:
    """A name makes its slug's room; the same name, or another with the same slug, is taken."""
    lab = CamusLab()
    created = lab.create("Hello, World!")
    assert (created.outcome, created.slug) == (Creation.CREATED, "hello-world")
    assert lab.create("Hello, World!").outcome is Creation.TAKEN
    assert lab.create("hello world").outcome is Creation.TAKEN
    assert lab.create("!!!").outcome is Creation.TAKEN  # no slug at all
    assert lab.create("x" * 65).outcome is Creation.TOO_LONG
    assert lab.rooms == 1


def test_a_visit_makes_a_new_member_named_major_tom() -> None:
    """Each visit to an open room's page makes a member (uuid4 hex) with a cookie; unknown rooms are not found."""
    lab = CamusLab()
    lab.create("Den")
    first, second = lab.enter("den"), lab.enter("den")
    assert first.outcome is Entry.ADMITTED and second.outcome is Entry.ADMITTED
    assert first.member_id != second.member_id
    assert len(first.member_id) == 32 and int(first.member_id, 16) >= 0
    assert first.cookie.startswith(first.member_id + ".")
    assert lab.enter("nowhere").outcome is Entry.NOT_FOUND
    socket = lab.connect("den", first.member_id)
    assert [c["username"] for c in _info(lab, socket)] == ["Major Tom", "Major Tom"]


def test_a_password_room_admits_only_the_right_password() -> None:
    """No password: the form and no member; a wrong or empty one: refused; the right one: a member."""
    lab = CamusLab()
    lab.create("Vault", password="s3cret")
    assert lab.enter("vault").outcome is Entry.PASSWORD_FORM
    assert lab.enter("vault", "nope").outcome is Entry.WRONG_PASSWORD
    assert lab.enter("vault", "").outcome is Entry.WRONG_PASSWORD
    admitted = lab.enter("vault", "s3cret")
    assert admitted.outcome is Entry.ADMITTED
    socket = lab.connect("vault", admitted.member_id)
    assert [c["id"] for c in _info(lab, socket)] == [admitted.member_id]


def test_the_guest_limit_counts_members_with_or_without_a_socket() -> None:
    """A room with guest_limit 2 takes two members, then is full, even before anyone connects."""
    lab = CamusLab()
    lab.create("Pair", guest_limit=2)
    assert lab.enter("pair").outcome is Entry.ADMITTED
    assert lab.enter("pair").outcome is Entry.ADMITTED
    full = lab.enter("pair")
    assert (full.outcome, full.room_name) == (Entry.FULL, "Pair")


def test_caps_on_rooms_and_on_members_of_unlimited_rooms() -> None:
    """The server's caps: rooms at once, and members of a room whose guest limit is 0 (unlimited)."""
    lab = CamusLab(max_rooms=2, max_members=3)
    assert lab.create("one").outcome is Creation.CREATED
    assert lab.create("two", guest_limit=10).outcome is Creation.CREATED
    assert lab.create("three").outcome is Creation.TOO_MANY_ROOMS
    assert [lab.enter("one").outcome for _ in range(4)][-2:] == [Entry.ADMITTED, Entry.FULL]
    assert [lab.enter("two").outcome for _ in range(4)][-1] is Entry.FULL


# Ground control ----------------------------------------------------------------------------------


def test_ping_answers_pong_that_tells_the_client_its_own_id() -> None:
    """ping -> pong from ground control with the same data and receiver = the member's own id."""
    lab = CamusLab()
    [ann] = lab.room_with("Den", 1)
    outcome = lab.send(
        ann,
        {"sender": "someone else", "receiver": GROUND_CONTROL, "type": "ping", "data": 1700},
    )
    assert outcome.to(ann) == [frame(GROUND_CONTROL, ann.member_id, "pong", 1700)]


def test_pong_and_greeting_get_no_answer_and_unknown_types_get_the_camus_error() -> None:
    """pong and greeting are taken silently; any other type (or none) gets 'Unknown message type: <type>'."""
    lab = CamusLab()
    [ann] = lab.room_with("Den", 1)
    assert lab.say(ann, GROUND_CONTROL, "pong", 5).nothing
    assert lab.say(ann, GROUND_CONTROL, "greeting", "This is Major Tom").nothing
    unknown = lab.say(ann, GROUND_CONTROL, "launch").to(ann)
    assert unknown == [
        frame(GROUND_CONTROL, ann.member_id, "error", "Unknown message type: launch")
    ]
    untyped = lab.send(ann, {"receiver": GROUND_CONTROL}).to(ann)
    assert untyped[0]["data"] == "Unknown message type: None"


def test_profile_renames_and_tells_the_whole_room() -> None:
    """profile{username} renames the member and sends room-info to every member with a socket, itself included."""
    lab = CamusLab()
    ann, bob = lab.room_with("Den", 2)
    outcome = lab.say(ann, GROUND_CONTROL, "profile", {"username": "  Ann\u0000 "})
    expected = {
        "room_id": "den",
        "clients": [
            {"id": ann.member_id, "username": "Ann"},
            {"id": bob.member_id, "username": "Major Tom"},
        ],
    }
    assert outcome.to(ann) == [frame(GROUND_CONTROL, ann.member_id, "room-info", expected)]
    assert outcome.to(bob) == [frame(GROUND_CONTROL, bob.member_id, "room-info", expected)]
    # An empty name keeps the old one (still told); a profile that is not an object is dropped.
    assert lab.say(ann, GROUND_CONTROL, "profile", {"username": ""}).to(bob)[0]["data"] == expected
    assert lab.say(ann, GROUND_CONTROL, "profile", "Ann").nothing


def test_get_ice_servers_hands_lobbyhosts_ice_config_with_the_member_id_in_turn_names() -> None:
    """ice-servers: a list of {urls[, username, credential]}; TURN REST usernames end with the member id."""
    ice = IceConfig(
        stun_urls=("stun:127.0.0.1:3478",),
        turn=(TurnServer(urls=("turn:127.0.0.1:3478",), username="u", credential="c"),),
        turn_secret=(TurnSecretServer(urls=("turn:127.0.0.1:3479",), secret="k", ttl_s=60),),
    )
    lab = CamusLab(ice=ice)
    [ann] = lab.room_with("Den", 1)
    [reply] = lab.say(ann, GROUND_CONTROL, "get-ice-servers").to(ann)
    assert (reply["sender"], reply["type"], reply["receiver"]) == (
        GROUND_CONTROL,
        "ice-servers",
        ann.member_id,
    )
    stun, turn, minted = reply["data"]
    assert stun == {"urls": ["stun:127.0.0.1:3478"]}
    assert turn == {"urls": ["turn:127.0.0.1:3478"], "username": "u", "credential": "c"}
    assert minted["username"].endswith(":" + ann.member_id) and minted["credential"]
    assert "kind" not in minted


def test_no_ice_servers_is_an_empty_list() -> None:
    """Without ICE config, ice-servers carries []."""
    lab = CamusLab()
    [ann] = lab.room_with("Den", 1)
    assert lab.say(ann, GROUND_CONTROL, "get-ice-servers").to(ann)[0]["data"] == []


def test_bye_deletes_the_member_and_tells_the_rest() -> None:
    """bye to ground control: the member is gone (its cookie opens no socket), the rest get room-info."""
    lab = CamusLab()
    lab.create("Den")
    ann_entry, bob_entry = lab.enter("den"), lab.enter("den")
    ann = lab.connect("den", ann_entry.member_id)
    bob = lab.connect("den", bob_entry.member_id)
    outcome = lab.say(ann, GROUND_CONTROL, "bye", 1700)
    assert outcome.to(ann) == []
    [info] = outcome.to(bob)
    assert info["data"]["clients"] == [{"id": bob.member_id, "username": "Major Tom"}]
    assert ann.connection_id in outcome.closed
    assert lab.admit("den", ann_entry.cookie).outcome is SocketAdmission.NO_MEMBER
    assert lab.admit("den", ann_entry.cookie, bob_entry.cookie).member_id == bob.member_id
    assert lab.say(ann, GROUND_CONTROL, "ping", 1).nothing  # the departed socket is heard no more


def test_cookies_open_only_their_own_rooms_socket() -> None:
    """A cookie of another room, a forged signature or a bare member id opens nothing; no room: NO_ROOM."""
    lab = CamusLab()
    lab.create("Den")
    lab.create("Other")
    mine, theirs = lab.enter("den"), lab.enter("other")
    assert lab.admit("den", mine.cookie).outcome is SocketAdmission.ADMITTED
    assert lab.admit("den", theirs.cookie).outcome is SocketAdmission.NO_MEMBER
    forged = theirs.member_id + "." + mine.cookie.partition(".")[2]
    for cookie in (forged, mine.member_id, mine.cookie + "x", "", "."):
        assert lab.admit("den", cookie).outcome is SocketAdmission.NO_MEMBER
    assert lab.admit("gone", mine.cookie).outcome is SocketAdmission.NO_ROOM


# Relays --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "data"),
    [("offer", OFFER), ("answer", ANSWER), ("icecandidate", CANDIDATE), ("text", TEXT), ("bye", 1)],
)
def test_relays_to_a_member_stamp_the_real_sender(kind: str, data: Any) -> None:
    """offer, answer, icecandidate, text and bye to a member reach it alone, sender stamped, data as sent."""
    lab = CamusLab()
    ann, bob, cat = lab.room_with("Den", 3)
    outcome = lab.send(
        ann, {"sender": cat.member_id, "receiver": bob.member_id, "type": kind, "data": data}
    )
    assert outcome.frames == {bob.connection_id: [frame(ann.member_id, bob.member_id, kind, data)]}


def test_relays_to_the_room_reach_everyone_with_receiver_rewritten() -> None:
    """A frame to "room" goes to every member with a socket, the sender included, each as its receiver."""
    lab = CamusLab()
    ann, bob, cat = lab.room_with("Den", 3)
    outcome = lab.say(ann, "room", "text", TEXT)
    for socket in (ann, bob, cat):
        assert outcome.to(socket) == [frame(ann.member_id, socket.member_id, "text", TEXT)]


def test_relays_never_leave_the_room_and_unknown_ids_are_dropped_silently() -> None:
    """A member of another room, an unknown id and a native connection are never reached; nothing comes back."""
    lab = CamusLab()
    [ann] = lab.room_with("Den", 1)
    [zed] = lab.room_with("Other", 1)
    native = lab.registry.connect("127.0.0.9")
    for receiver in (zed.member_id, "f" * 32, native, "", None):
        assert lab.say(ann, receiver, "offer", OFFER).nothing  # type: ignore[arg-type]
    assert lab.say(ann, "room", "text", TEXT).frames.keys() == {ann.connection_id}


def test_relays_to_a_member_between_sockets_are_dropped() -> None:
    """A member whose socket closed stays in the room (listed) but hears nothing until it reconnects."""
    lab = CamusLab()
    ann, bob = lab.room_with("Den", 2)
    assert lab.drop(bob).nothing
    assert lab.say(ann, bob.member_id, "offer", OFFER).nothing
    assert [c["id"] for c in _info(lab, ann)] == [ann.member_id, bob.member_id]
    bob_again = lab.connect("den", bob.member_id)
    assert lab.say(ann, bob.member_id, "offer", OFFER).to(bob_again)[0]["type"] == "offer"


def test_a_new_socket_takes_the_member_over() -> None:
    """A second socket of the same member closes the first (4000); relays go to the new one; the old is not heard."""
    lab = CamusLab()
    ann, bob = lab.room_with("Den", 2)
    bob_new, opened = lab.connect_seeing("den", bob.member_id)
    assert opened.closed == {
        bob.connection_id: (CLOSE_TAKEN_OVER, "taken over by a new connection")
    }
    relayed = lab.say(ann, bob.member_id, "text", TEXT)
    assert relayed.frames.keys() == {bob_new.connection_id}
    assert lab.say(bob, ann.member_id, "text", TEXT).nothing
    assert lab.drop(bob).nothing  # the old socket's close does not unbind the new one
    assert lab.say(ann, bob.member_id, "text", TEXT).frames.keys() == {bob_new.connection_id}


def test_a_socket_for_a_member_deleted_since_its_handshake_is_closed() -> None:
    """A socket whose member left between the handshake and the open is closed at once."""
    lab = CamusLab()
    [ann] = lab.room_with("Den", 1)
    lab.say(ann, GROUND_CONTROL, "bye")
    _, opened = lab.connect_seeing("den", ann.member_id)
    assert list(opened.closed.values()) == [(1008, "not a member")]


# Bad input -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        "not json",
        "[1, 2]",
        "42",
        '{"receiver": 5, "type": "ping"}',
        '{"receiver": "ground control", "type": ["ping"]}',
        '{"receiver": "' + "r" * 65 + '", "type": "text"}',
        '{"receiver": "room", "type": "' + "t" * 65 + '"}',
        '{"receiver": "room", "type": "text", "data": }',
        "[" * 10_000,
        b"\xff\xfe",
        "x" * 70_000,
    ],
)
def test_bad_frames_are_dropped_silently_and_the_socket_still_works(bad: str | bytes) -> None:
    """Unreadable, mistyped, nested, oversized or binary junk: nothing sent to anyone; ping still answered."""
    lab = CamusLab()
    ann, _ = lab.room_with("Den", 2)
    assert lab.send(ann, bad).nothing
    assert lab.say(ann, GROUND_CONTROL, "ping", 7).to(ann)[0]["type"] == "pong"


def test_a_binary_frame_holding_json_is_read_as_text() -> None:
    """A binary frame with a JSON message is read like a text one (Camus's json.loads took either)."""
    lab = CamusLab()
    [ann] = lab.room_with("Den", 1)
    reply = lab.send(ann, b'{"receiver":"ground control","type":"ping","data":3}').to(ann)
    assert reply[0]["data"] == 3


def test_the_rate_limit_drops_frames_silently() -> None:
    """Frames beyond a connection's action budget get no answer (no native error reaches a Camus client)."""
    lab = CamusLab()
    [ann] = lab.room_with("Den", 1)
    replies = [lab.say(ann, GROUND_CONTROL, "ping", n) for n in range(250)]
    assert replies[0].to(ann) and replies[-1].nothing


# Timers ----------------------------------------------------------------------------------------------


def test_silent_members_are_pinged_on_the_20_second_ticks() -> None:
    """Every 20 s, members silent for 30 s get a ping from ground control; a member that spoke does not."""
    lab = CamusLab()
    ann, bob = lab.room_with("Den", 2)
    assert lab.advance(20).nothing  # silent for 20 s only
    lab.say(ann, GROUND_CONTROL, "pong", 1)  # ann speaks at 20 s
    outcome = lab.advance(20)  # 40 s: bob silent 40 s, ann 20 s
    [ping] = outcome.to(bob)
    assert (ping["sender"], ping["receiver"], ping["type"]) == (
        GROUND_CONTROL,
        bob.member_id,
        "ping",
    )
    assert isinstance(ping["data"], float)
    assert outcome.to(ann) == []


def test_members_silent_for_90_seconds_get_bye_and_are_deleted() -> None:
    """On the 30 s ticks, members silent 90 s get bye from ground control, their socket closes, the rest get room-info."""
    lab = CamusLab()
    ann, bob = lab.room_with("Den", 2)
    for _ in range(4):  # ann keeps talking, bob answers nothing
        lab.advance(20)
        lab.say(ann, GROUND_CONTROL, "pong", 1)
    outcome = lab.advance(10)  # 90 s: the reaping tick
    [bye] = outcome.to(bob)
    assert (bye["sender"], bye["receiver"], bye["type"]) == (GROUND_CONTROL, bob.member_id, "bye")
    assert bob.connection_id in outcome.closed
    [info] = outcome.to(ann)
    assert info["data"]["clients"] == [{"id": ann.member_id, "username": "Major Tom"}]


def test_members_without_a_socket_are_reaped_too() -> None:
    """A member that visited the page but never connected is deleted after 90 s of silence."""
    lab = CamusLab()
    lab.create("Den", guest_limit=2)
    lab.enter("den")
    lab.enter("den")
    assert lab.enter("den").outcome is Entry.FULL
    lab.advance(90)
    assert lab.enter("den").outcome is Entry.ADMITTED


def test_a_room_with_no_frame_for_300_seconds_is_deleted() -> None:
    """A room is deleted 300 s after its last frame (page: not found), not 300 s after it was made."""
    lab = CamusLab()
    [ann] = lab.room_with("Den", 1)
    for _ in range(10):  # ann answers until 200 s, then goes quiet (and is reaped)
        lab.advance(20)
        lab.say(ann, GROUND_CONTROL, "pong", 1)
    lab.advance(290)
    assert lab.rooms == 1
    lab.advance(10)  # 500 s: idle for 300 s
    assert lab.rooms == 0
    assert lab.enter("den").outcome is Entry.NOT_FOUND


def test_every_timer_is_scaled_by_dialect_time_scale() -> None:
    """With dialect_time_scale 0.01 the ping comes after 0.4 s, the bye at the 0.9 s tick, the room goes after 3 s."""
    lab = CamusLab(scale=0.01)
    [ann] = lab.room_with("Den", 1)
    assert lab.advance(0.2).nothing
    assert [f["type"] for f in lab.advance(0.2).to(ann)] == ["ping"]  # 0.4 s
    assert "bye" not in [f["type"] for f in lab.advance(0.4).to(ann)]  # 0.8 s
    assert [f["type"] for f in lab.advance(0.15).to(ann)][-1] == "bye"  # 0.95 s
    assert lab.rooms == 1
    lab.advance(2.1)
    assert lab.rooms == 0


def test_timers_of_a_deleted_room_leave_a_new_room_with_the_same_slug_alone() -> None:
    """A room deleted and made again: the old room's timers do nothing, so pings are not doubled."""
    lab = CamusLab()
    lab.create("Den")
    lab.advance(300)  # deleted; its ping and reap timers are still planned
    assert lab.create("Den").outcome is Creation.CREATED
    ann = lab.connect("den", lab.enter("den").member_id)
    assert lab.advance(20).nothing
    assert [f["type"] for f in lab.advance(20).to(ann)] == ["ping"]  # one ping, not two


def test_room_state_lives_in_backend_records() -> None:
    """Rooms are byte records in the backend; two registries sharing it see the same members."""
    lab = CamusLab()
    lab.create("Den")
    member = lab.enter("den")
    other = LobbyRegistry(backend=lab.registry.backend, clock=lab.clock)
    rules = CamusRules(other)
    other.add_dialect(rules)
    assert rules.room_count() == 1
    admitted, _ = other.run(lambda: rules.admit_socket("den", [member.cookie]))
    assert (admitted.outcome, admitted.member_id) == (SocketAdmission.ADMITTED, member.member_id)
