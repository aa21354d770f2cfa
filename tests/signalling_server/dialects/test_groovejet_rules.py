"""groovejet's rules in the core: a registry driven directly, a manual clock, frames through the codec.

Every connection gets groovejet's codec, and what it is sent is read the way
its client would: through :meth:`GroovejetCodec.encode` (an event the codec
has no frame for never reaches the client). The backend hands out copies, as
a networked store does, so a change the rules forget to save is lost here.
"""

from __future__ import annotations

import json
import re
import uuid
from collections import defaultdict, deque
from typing import Any

import msgspec
import pytest

from signalling_server.backend import MemoryBackend
from signalling_server.clock import ManualClock
from signalling_server.config import Limits
from signalling_server.dialects.groovejet import GroovejetCodec, GroovejetRules
from signalling_server.dialects.groovejet.rules import EMPTY_SEAT_TTL_S, MAX_GUESTS
from signalling_server.effects import CloseConnection, Effect, Send
from signalling_server.ids import ConnectionId
from signalling_server.protocol import encode_event
from signalling_server.protocol import events as ev
from signalling_server.protocol.codes import CloseReason, ErrorCode
from signalling_server.registry import LobbyRegistry

CODE = re.compile(r"^[0-9a-z]{5}$")
OFFER = {"type": "offer", "sdp": "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\n"}
ANSWER = {"type": "answer", "sdp": "v=0\r\no=- 3 4 IN IP4 127.0.0.1\r\ns=-\r\n"}
SCALE = 0.5
TTL = EMPTY_SEAT_TTL_S * SCALE


class Room:
    """A registry with groovejet's rules, its manual clock, and what each connection was sent."""

    def __init__(
        self,
        *,
        limits: Limits | None = None,
        backend: MemoryBackend | None = None,
        rules: type[GroovejetRules] = GroovejetRules,
        **rule_options: Any,
    ) -> None:
        self.clock = ManualClock()
        self.backend = backend or MemoryBackend(copies=True)
        self.registry = LobbyRegistry(
            limits=limits or Limits(password_hash_iterations=1),
            clock=self.clock,
            backend=self.backend,
            dialect_time_scale=SCALE,
        )
        self.rules = rules(self.registry, **rule_options)
        self.registry.add_dialect(self.rules)
        self.inbox: dict[ConnectionId, deque[dict[str, Any]]] = defaultdict(deque)
        self.closed: dict[ConnectionId, tuple[int, str]] = {}
        self.codecs: dict[ConnectionId, GroovejetCodec] = {}

    def client(self, address: str = "127.0.0.2") -> Client:
        """A new groovejet connection; its identity frame is taken already."""
        codec = GroovejetCodec(max_frame_bytes=self.registry.limits.max_frame_bytes)
        cid = self.registry.connect(address, codec)
        self.codecs[cid] = codec
        client = Client(self, cid)
        self.apply(self.registry.opened(cid))
        identity = client.next()
        assert identity["type"] == "identity" and set(identity) == {"type", "data"}
        client.client_id = identity["data"]["clientId"]
        return client

    def native(self, address: str = "127.0.0.9") -> ConnectionId:
        return self.registry.connect(address)

    def apply(self, effects: list[Effect]) -> None:
        for effect in effects:
            if isinstance(effect, CloseConnection):
                self.closed[effect.connection_id] = (effect.code, effect.reason)
                continue
            codec = self.codecs.get(effect.target)
            if codec is None:  # a native connection
                frame: bytes | None = encode_event(effect.event, effect.ref)
            else:
                frame = codec.encode(effect.event, effect.ref)
            if frame is not None:
                self.inbox[effect.target].append(json.loads(frame))

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)
        self.apply(self.registry.expire())

    def host(self, address: str = "127.0.0.1") -> tuple[Client, str]:
        """A client that created a room: ``(host, code)``."""
        host = self.client(address)
        host.send({"type": "createRoom"})
        message = host.next()
        assert message["type"] == "createdRoom"
        return host, message["data"]["roomCode"]

    def guest(self, code: str, address: str = "127.0.0.2") -> Client:
        guest = self.client(address)
        guest.send({"type": "joinRoom", "data": {"roomCode": code}})
        assert guest.next() == {"type": "joinedRoom", "data": {"isHost": False}}
        return guest


class Client:
    """One groovejet connection to the registry."""

    def __init__(self, room: Room, cid: ConnectionId) -> None:
        self.room = room
        self.id = cid
        self.client_id = ""

    def send(self, message: Any) -> None:
        self.raw(json.dumps(message))

    def raw(self, frame: str | bytes) -> None:
        self.room.apply(self.room.registry.handle(self.id, frame))

    def disconnect(self) -> None:
        self.room.apply(self.room.registry.disconnect(self.id))

    def next(self) -> dict[str, Any]:
        box = self.room.inbox[self.id]
        assert box, "expected a frame, got none"
        return box.popleft()

    def expect_fatal(self, error_type: str, message: str) -> None:
        """The next frame is this error, the last one, and the server closes (1000)."""
        frame = self.next()
        assert frame == {"type": "error", "errorType": error_type, "errorMessage": message}
        self.assert_silent()
        assert self.room.closed[self.id] == (1000, "")

    def assert_silent(self) -> None:
        box = self.room.inbox[self.id]
        assert not box, f"unexpected frames: {list(box)}"

    @property
    def closed(self) -> tuple[int, str] | None:
        return self.room.closed.get(self.id)

    def offer(self, offer: Any = OFFER) -> None:
        self.send({"type": "guestOfferSignal", "data": {"offerSignal": offer}})

    def answer(self, client_id: str, answer: Any = ANSWER) -> None:
        self.send(
            {"type": "hostAnswerSignal", "data": {"answerSignal": answer, "clientId": client_id}}
        )


# Connecting, creating, joining --------------------------------------------------------------


def test_each_connection_is_greeted_with_a_fresh_uuid4_client_id() -> None:
    """On open the only frame is identity{clientId}, a uuid4 string, new for every connection."""
    room = Room()
    ids = [room.client().client_id for _ in range(5)]
    assert len(set(ids)) == 5
    for client_id in ids:
        assert str(uuid.UUID(client_id, version=4)) == client_id


def test_create_room_answers_a_five_character_code_and_makes_the_caller_host() -> None:
    """createRoom -> createdRoom{roomCode} of [0-9a-z]{5}; the room is a lobby under groovejet:<code>."""
    room = Room()
    codes = {room.host(f"127.0.0.{n}")[1] for n in range(1, 6)}
    assert len(codes) == 5 and all(CODE.match(code) for code in codes)
    stored = sorted(lobby.lobby_id for lobby in room.backend.lobbies())
    assert stored == sorted(f"groovejet:{code}" for code in codes)
    assert all(lobby.policy == "groovejet" for lobby in room.backend.lobbies())


def test_a_guest_joins_with_the_code_and_the_host_hears_nothing() -> None:
    """joinRoom{roomCode} -> joinedRoom{isHost:false}; canHost changes nothing while a host is there."""
    room = Room()
    host, code = room.host()
    room.guest(code)
    eager = room.client("127.0.0.3")
    eager.send({"type": "joinRoom", "data": {"roomCode": code, "canHost": True}})
    assert eager.next() == {"type": "joinedRoom", "data": {"isHost": False}}
    host.assert_silent()


def test_in_a_room_create_and_join_are_ignored() -> None:
    """A host's or guest's createRoom and joinRoom do nothing: they stay where they are."""
    room = Room()
    host, code = room.host()
    _, other = room.host("127.0.0.3")
    guest = room.guest(code)
    for client in (host, guest):
        client.send({"type": "createRoom"})
        client.send({"type": "joinRoom", "data": {"roomCode": other}})
        client.send({"type": "joinRoom", "data": {}})  # no missingRoomCode either
        client.assert_silent()
        assert client.closed is None
    assert room.backend.lobby_count() == 2
    guest.offer()
    assert host.next()["data"]["clientId"] == guest.client_id


# Signalling ---------------------------------------------------------------------------------------


def test_the_guest_offer_reaches_the_host_stamped_and_the_answer_only_that_guest() -> None:
    """guestOfferSignal -> host with the guest's clientId; hostAnswerSignal -> that guest only, payloads verbatim."""
    room = Room()
    host, code = room.host()
    first, second = room.guest(code), room.guest(code, "127.0.0.3")
    first.raw(
        '{"type":"guestOfferSignal","data":{"offerSignal":{"type": "offer" ,"sdp":"a\\r\\n","x":[1,2.50]}}}'
    )
    relayed = host.next()
    assert relayed == {
        "type": "guestOfferSignal",
        "data": {
            "offerSignal": {"type": "offer", "sdp": "a\r\n", "x": [1, 2.5]},
            "clientId": first.client_id,
        },
    }
    host.answer(first.client_id)
    assert first.next() == {"type": "hostAnswerSignal", "data": {"answerSignal": ANSWER}}
    second.assert_silent()
    first.assert_silent()
    assert room.registry.stats.relayed == 2


def test_relayed_signals_are_spliced_byte_for_byte() -> None:
    """The offer's JSON reaches the host exactly as the guest wrote it (spacing, number forms)."""
    room = Room()
    host, code = room.host()
    guest = room.guest(code)
    offer = '{"type" : "offer", "sdp":"v=0\\r\\n", "n": 1.50e1}'
    effects = room.registry.handle(
        guest.id, '{"type":"guestOfferSignal","data":{"offerSignal":' + offer + "}}"
    )
    [send] = [e for e in effects if isinstance(e, Send)]
    frame = room.codecs[host.id].encode(send.event, send.ref)
    assert frame == (
        b'{"type":"guestOfferSignal","data":{"offerSignal":'
        + offer.encode()
        + b',"clientId":"'
        + guest.client_id.encode()
        + b'"}}'
    )


def test_only_the_right_roles_signal_and_only_within_their_room() -> None:
    """Host offers, guest answers, answers to others' guests or unknown ids, and signals outside a room go nowhere."""
    room = Room()
    host, code = room.host()
    other_host, other_code = room.host("127.0.0.3")
    guest, outsider = room.guest(code), room.guest(other_code, "127.0.0.4")
    idle = room.client("127.0.0.5")
    host.offer()  # a host never offers
    guest.answer(guest.client_id)  # a guest never answers
    guest.answer(outsider.client_id)
    host.answer(outsider.client_id)  # another room's guest
    host.answer(host.client_id)
    host.answer("00000000-0000-4000-8000-000000000000")
    idle.offer()
    idle.answer(guest.client_id)
    for client in (host, other_host, guest, outsider, idle):
        client.assert_silent()
        assert client.closed is None
    assert room.registry.stats.relayed == 0


def test_descriptions_need_their_key_and_a_string_client_id() -> None:
    """An offer without offerSignal, or an answer without answerSignal or a string clientId, is ignored."""
    room = Room()
    host, code = room.host()
    guest = room.guest(code)
    for frame in (
        {"type": "guestOfferSignal"},
        {"type": "guestOfferSignal", "data": None},
        {"type": "guestOfferSignal", "data": "offer"},
        {"type": "guestOfferSignal", "data": {"offer": OFFER}},
    ):
        guest.send(frame)
    for frame in (
        {"type": "hostAnswerSignal", "data": {"answerSignal": ANSWER}},
        {"type": "hostAnswerSignal", "data": {"clientId": guest.client_id}},
        {"type": "hostAnswerSignal", "data": {"answerSignal": ANSWER, "clientId": 7}},
        {"type": "hostAnswerSignal", "data": {"answerSignal": ANSWER, "clientId": None}},
    ):
        host.send(frame)
    host.assert_silent()
    guest.assert_silent()
    guest.offer(None)  # present, even if null: relayed as it is
    assert host.next()["data"] == {"offerSignal": None, "clientId": guest.client_id}


# The three errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "joinRoom"},
        {"type": "joinRoom", "data": None},
        {"type": "joinRoom", "data": "abcde"},
        {"type": "joinRoom", "data": ["abcde"]},
        {"type": "joinRoom", "data": {}},
        {"type": "joinRoom", "data": {"roomCode": None, "canHost": True}},
        {"type": "joinRoom", "data": {"roomCode": 12345}},
        {"type": "joinRoom", "data": {"roomcode": "abcde"}},
    ],
)
def test_a_join_without_a_string_room_code_is_missing_room_code(frame: dict[str, Any]) -> None:
    """No data, no object, or no string roomCode: missingRoomCode with its text, then the socket closes."""
    room = Room()
    client = room.client()
    client.send(frame)
    client.expect_fatal("missingRoomCode", "Missing room code in request")


@pytest.mark.parametrize(
    "code", ["", "zzzzz", "ABCDE", "abcdef", "abcd", " abcd", "groovejet:abcde"]
)
def test_a_code_that_names_no_room_is_no_room_found(code: str) -> None:
    """Unknown, upper-cased, longer or shorter codes find nothing: noRoomFound echoing the code, then close."""
    room = Room(new_code=lambda: "abcde")
    room.host()
    client = room.client()
    client.send({"type": "joinRoom", "data": {"roomCode": code}})
    client.expect_fatal("noRoomFound", f"No room exists with code {code}")


def test_after_a_fatal_error_nothing_more_counts() -> None:
    """Frames that arrive while the socket closes are ignored: no room joined, nothing sent."""
    room = Room()
    host, code = room.host()
    client = room.client()
    client.send({"type": "joinRoom", "data": {"roomCode": "zzzzz"}})
    client.expect_fatal("noRoomFound", "No room exists with code zzzzz")
    client.send({"type": "joinRoom", "data": {"roomCode": code}})
    client.send({"type": "createRoom"})
    client.offer()
    client.assert_silent()
    host.assert_silent()
    assert room.backend.lobby_count() == 1


@pytest.mark.parametrize("can_host", [None, False, 0, "", "absent"])
def test_an_empty_seat_refuses_joiners_that_cannot_host(can_host: Any) -> None:
    """Host gone and canHost falsy (as JavaScript reads it): hostDisconnected, then close."""
    room = Room()
    host, code = room.host()
    host.disconnect()
    client = room.client()
    data: dict[str, Any] = {"roomCode": code}
    if can_host != "absent":
        data["canHost"] = can_host
    client.send({"type": "joinRoom", "data": data})
    client.expect_fatal("hostDisconnected", f"No host connected for room {code}")


@pytest.mark.parametrize("can_host", [True, 1, "yes", {}, []])
def test_a_joiner_that_can_host_takes_the_empty_seat(can_host: Any) -> None:
    """Host gone and canHost truthy: joinedRoom{isHost:true}; the next joiner is its guest."""
    room = Room()
    host, code = room.host()
    stayed = room.guest(code, "127.0.0.3")
    host.disconnect()
    new_host = room.client("127.0.0.4")
    new_host.send({"type": "joinRoom", "data": {"roomCode": code, "canHost": can_host}})
    assert new_host.next() == {"type": "joinedRoom", "data": {"isHost": True}}
    later = room.guest(code, "127.0.0.5")
    later.offer()
    assert new_host.next()["data"]["clientId"] == later.client_id
    stayed.offer()  # a guest who stayed through the change reaches the new host too
    assert new_host.next()["data"]["clientId"] == stayed.client_id
    new_host.answer(stayed.client_id)
    assert stayed.next()["type"] == "hostAnswerSignal"


# Leaving, and the empty seat's timer --------------------------------------------------------------


def test_disconnects_are_silent_and_a_host_leaving_keeps_the_room() -> None:
    """Nobody hears of a guest or host leaving; offers to an empty seat are dropped; the room stays."""
    room = Room()
    host, code = room.host()
    leaving, staying = room.guest(code), room.guest(code, "127.0.0.3")
    leaving.disconnect()
    host.answer(leaving.client_id)  # a departed guest's id finds nobody
    host.assert_silent()
    staying.assert_silent()
    host.disconnect()
    staying.assert_silent()
    staying.offer()
    staying.assert_silent()
    assert room.backend.lobby_count() == 1
    lobby = next(room.backend.lobbies())
    assert lobby.host.connection_id is None and list(lobby.guests) == [staying.id]
    assert room.closed == {}


def test_a_room_without_a_host_is_deleted_after_ten_minutes_scaled() -> None:
    """600 s x dialect_time_scale after the host left, the room is gone: joins get noRoomFound."""
    room = Room()
    host, code = room.host()
    guest = room.guest(code, "127.0.0.3")
    host.disconnect()
    room.advance(TTL - 0.01)
    early = room.client()
    early.send({"type": "joinRoom", "data": {"roomCode": code}})
    early.expect_fatal("hostDisconnected", f"No host connected for room {code}")
    room.advance(0.01)
    assert room.backend.lobby_count() == 0
    late = room.client("127.0.0.4")
    late.send({"type": "joinRoom", "data": {"roomCode": code, "canHost": True}})
    late.expect_fatal("noRoomFound", f"No room exists with code {code}")
    guest.assert_silent()  # still connected, told nothing, and its signals go nowhere
    guest.offer()
    guest.send({"type": "createRoom"})  # still "in a room" for the rest of its connection
    guest.assert_silent()
    assert guest.closed is None
    guest.disconnect()
    early.disconnect()  # closed after its error, never in a room
    room.client("127.0.0.5").disconnect()  # never did anything
    assert room.backend.lobby_count() == 0 and room.closed.keys() == {early.id, late.id}


def test_a_room_with_a_host_never_expires_and_a_retaken_seat_stops_the_timer() -> None:
    """Hosted rooms stay; a seat taken back before the deadline keeps the room; a new departure restarts the period."""
    room = Room()
    host, code = room.host()
    room.advance(10 * TTL)
    host.disconnect()
    room.advance(TTL / 2)
    back = room.client()
    back.send({"type": "joinRoom", "data": {"roomCode": code, "canHost": True}})
    assert back.next() == {"type": "joinedRoom", "data": {"isHost": True}}
    room.advance(TTL)
    assert room.backend.lobby_count() == 1
    back.disconnect()
    room.advance(TTL - 0.01)
    assert room.backend.lobby_count() == 1
    room.advance(0.01)
    assert room.backend.lobby_count() == 0


# Bad input ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "frame",
    [
        "not json",
        "",
        "{",
        b'{"type":"createRoom"}',
        "[]",
        "null",
        '"createRoom"',
        "{}",
        '{"type":7}',
        '{"type":null}',
        '{"data":{"roomCode":"abcde"}}',
        '{"type":"createroom"}',
        '{"type":"start_lobby"}',
        '{"action":"join_lobby","content":{"lobby_id":"abcde"}}',
        '{"type":"identity","data":{"clientId":"x"}}',
        '{"type":"error","errorType":"noRoomFound"}',
        "[" * 100_000 + "]" * 100_000,
        '{"type":"guestOfferSignal","data":{"offerSignal":' + "[" * 10_000 + "]" * 10_000 + "}}",
        '{"type":"createRoom","pad":"' + "x" * 70_000 + '"}',
        '{"type":"joinRoom","data":{"roomCode":"\\ud800"}}',  # a lone surrogate
    ],
)
def test_frames_it_cannot_use_are_ignored_without_a_word(frame: str | bytes) -> None:
    """Invalid JSON, binary, unknown types, native actions, huge or deep frames: nothing sent, nothing closed."""
    room = Room()
    client = room.client()
    client.raw(frame)
    client.assert_silent()
    assert client.closed is None
    client.send({"type": "createRoom"})  # and the connection still works
    assert client.next()["type"] == "createdRoom"


def test_create_room_ignores_whatever_data_it_carries() -> None:
    """createRoom with any data (or extra keys) creates a room, as the original server did."""
    room = Room()
    client = room.client()
    client.send({"type": "createRoom", "data": {"roomCode": "abcde"}, "extra": 1})
    assert CODE.match(client.next()["data"]["roomCode"])


# Limits -------------------------------------------------------------------------------------------


def test_rooms_per_address_are_capped_and_freed_when_a_room_is_deleted() -> None:
    """Past lobbies_per_address open rooms, createRoom closes the socket (1013) without an error frame."""
    room = Room(limits=Limits(password_hash_iterations=1, lobbies_per_address=2))
    first, _ = room.host("127.0.0.7")
    room.host("127.0.0.7")
    refused = room.client("127.0.0.7")
    refused.send({"type": "createRoom"})
    refused.assert_silent()
    assert refused.closed == (1013, "too many rooms from this address")
    refused.send({"type": "createRoom"})
    refused.assert_silent()
    assert room.host("127.0.0.8")[1]  # another address is not affected
    first.disconnect()
    room.advance(TTL)
    assert room.host("127.0.0.7")[1]
    assert room.registry.stats.errors["rate_limited"] == 1


def test_join_attempts_per_address_are_capped() -> None:
    """Past joins_per_address_per_minute, joinRoom closes the socket (1013) without an error frame."""
    room = Room(limits=Limits(password_hash_iterations=1, joins_per_address_per_minute=2))
    _, code = room.host()
    room.guest(code, "127.0.0.7")
    failed = room.client("127.0.0.7")
    failed.send({"type": "joinRoom", "data": {"roomCode": "zzzzz"}})
    failed.expect_fatal("noRoomFound", "No room exists with code zzzzz")
    refused = room.client("127.0.0.7")
    refused.send({"type": "joinRoom", "data": {"roomCode": code}})
    refused.assert_silent()
    assert refused.closed == (1013, "too many join attempts")
    room.advance(60.0)
    room.guest(code, "127.0.0.7")


def test_a_room_takes_at_most_max_guests() -> None:
    """The guest past MAX_GUESTS is closed (1013, room full) without an error frame; the others are unaffected."""
    room = Room(limits=Limits(password_hash_iterations=1, joins_per_address_per_minute=1000))
    host, code = room.host()
    guests = [room.guest(code, f"127.0.1.{n}") for n in range(MAX_GUESTS)]
    extra = room.client("127.0.2.1")
    extra.send({"type": "joinRoom", "data": {"roomCode": code}})
    extra.assert_silent()
    assert extra.closed == (1013, "this room is full")
    guests[-1].offer()
    assert host.next()["data"]["clientId"] == guests[-1].client_id


def test_flooding_a_connection_is_throttled_silently() -> None:
    """Past the action budget frames are dropped with no frame back (groovejet has no such error)."""
    room = Room(limits=Limits(password_hash_iterations=1, action_burst=3, actions_per_second=1))
    host, code = room.host()
    guest = room.guest(code)
    guest.offer()
    guest.offer()
    assert [host.next()["type"], host.next()["type"]] == ["guestOfferSignal"] * 2
    guest.offer()  # its fourth action (joinRoom was the first) within the burst
    host.assert_silent()
    guest.assert_silent()
    assert room.registry.stats.errors["rate_limited"] == 1
    room.advance(1.0)
    guest.offer()
    assert host.next()["type"] == "guestOfferSignal"


def test_code_collisions_are_retried_and_a_full_code_space_refuses() -> None:
    """A taken code is drawn again; if every try is taken, createRoom closes the socket (1013)."""
    codes = iter(["aaaaa", "aaaaa", "bbbbb"])
    room = Room(new_code=lambda: next(codes, "aaaaa"))
    assert room.host("127.0.0.3")[1] == "aaaaa"
    assert room.host("127.0.0.4")[1] == "bbbbb"
    refused = room.client("127.0.0.5")
    refused.send({"type": "createRoom"})
    refused.assert_silent()
    assert refused.closed == (1013, "no free room code; try again")
    assert room.backend.lobby_count() == 2


# Isolation ----------------------------------------------------------------------------------------


def test_native_connections_and_groovejet_rooms_never_meet() -> None:
    """A native join cannot find a groovejet room, and a groovejet join cannot find a native lobby."""
    room = Room(new_code=lambda: "abcde")
    host, code = room.host()
    native = room.native()
    for lobby_id in (code, f"groovejet:{code}", code.upper()):
        room.apply(
            room.registry.handle(
                native, json.dumps({"action": "join_lobby", "content": {"lobby_id": lobby_id}})
            )
        )
        assert room.inbox[native].popleft()["content"]["code"] == "lobby_not_found"
    native_host = room.native("127.0.0.10")
    room.apply(room.registry.handle(native_host, '{"action":"start_lobby","content":{}}'))
    native_code = room.inbox[native_host].popleft()["content"]["lobby_id"]
    joiner = room.client("127.0.0.3")
    joiner.send({"type": "joinRoom", "data": {"roomCode": native_code, "canHost": True}})
    joiner.expect_fatal("noRoomFound", f"No room exists with code {native_code}")
    host.assert_silent()
    assert not room.inbox[native_host]


def test_two_nodes_on_one_backend_find_each_others_members() -> None:
    """Host on one registry, guest on another sharing a copying backend: both relays name the right target."""
    backend = MemoryBackend(copies=True)
    first, second = Room(backend=backend), Room(backend=backend)
    host, code = first.host()
    guest = second.guest(code)
    offer = second.registry.handle(
        guest.id, json.dumps({"type": "guestOfferSignal", "data": {"offerSignal": OFFER}})
    )
    assert [(e.target, type(e.event).__name__) for e in offer if isinstance(e, Send)] == [
        (host.id, "OfferFromGuest")
    ]
    answer = first.registry.handle(
        host.id,
        json.dumps(
            {
                "type": "hostAnswerSignal",
                "data": {"answerSignal": ANSWER, "clientId": guest.client_id},
            }
        ),
    )
    assert [(e.target, type(e.event).__name__) for e in answer if isinstance(e, Send)] == [
        (guest.id, "AnswerFromHost")
    ]


def test_the_codec_has_no_frame_for_any_native_event() -> None:
    """Native errors, pongs and lobby_closed say nothing to a groovejet client."""
    codec = GroovejetCodec()
    for event in (
        ev.Error(ErrorCode.INVALID_JSON, "x", None, None),
        ev.Pong(msgspec.Raw(b"1")),
        ev.LobbyClosed("groovejet:abcde", CloseReason.HOST_LEFT),
    ):
        assert codec.encode(event, "ref") is None
