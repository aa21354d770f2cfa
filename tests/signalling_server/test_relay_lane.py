"""The relay lane: a common relay answered in one step says exactly what the full rules say.

Two registries are driven in lock step by the same random steps (relays of
every kind between anyone and anyone, broken payloads, refs, bursts over the
rate limit, joins, accepts, kicks, leaves, drops, closes, a mesh lobby, time
passing): one as shipped, one with the lane switched off so every relay takes
the unit-of-work path. Every relay step must produce the same frames and closes,
byte for byte, and the counters must agree at the end.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signalling_server.backend import MemoryBackend
from signalling_server.clock import ManualClock
from signalling_server.config import Limits
from signalling_server.effects import Origin, Send
from signalling_server.ids import ConnectionId
from signalling_server.lobby import Connection
from signalling_server.policy import NATIVE, LobbyPolicy, Topology
from signalling_server.protocol import actions as a
from signalling_server.protocol import encode_event
from signalling_server.protocol.native import decode_event
from signalling_server.registry import CloseConnection, Effect, LobbyRegistry

MESH = LobbyPolicy(name="lane-mesh", topology=Topology.MESH)
POLICIES = {NATIVE.name: NATIVE, MESH.name: MESH}
CANDIDATE = {"candidate": "candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host", "sdpMid": "0"}
OFFER = {"type": "offer", "sdp": "v=0\r\n"}
#: Payloads by kind: well formed and not.
PAYLOADS: dict[str, list[Any]] = {
    "send_ice_candidate": [CANDIDATE, None, 42, {"candidate": 7}],
    "set_session_description": [OFFER, {"type": "nonsense", "sdp": ""}, None],
    "send_message": [{"chat": "hi"}, "text", None, [1, 2]],
}
FIELD = {
    "send_ice_candidate": "candidate",
    "set_session_description": "description",
    "send_message": "data",
}


class FullPathRegistry(LobbyRegistry):
    """The registry with its relay lane switched off: every relay is a unit of work."""

    def _relay_now(self, conn: Connection, action: a.RelayAction, ref: str | None) -> Send | None:
        return None


@dataclass
class World:
    """One registry with its clock, the ids of its cast, and the lobby codes they started."""

    registry: LobbyRegistry
    clock: ManualClock
    ids: list[ConnectionId] = field(default_factory=list)
    codes: dict[int, str] = field(default_factory=dict)

    def frame(self, conn: int, action: str, ref: str | None = None, **content: Any) -> list[Effect]:
        message: dict[str, Any] = {"action": action, "content": content}
        if ref is not None:
            message["ref"] = ref
        if self.ids[conn] not in self._live():
            return []
        effects = self.registry.handle(self.ids[conn], json.dumps(message))
        for effect in effects:
            if isinstance(effect, Send) and effect.event.__class__.__name__ == "LobbyStarted":
                self.codes[conn] = effect.event.lobby_id  # type: ignore[attr-defined]
        return effects

    def _live(self) -> set[ConnectionId]:
        return {cid for cid in self.ids if self.registry.connection(cid) is not None}


def make_world(kind: type[LobbyRegistry], copies: bool) -> World:
    clock = ManualClock()
    registry = kind(
        limits=Limits(password_hash_iterations=1, actions_per_second=20, action_burst=6),
        clock=clock,
        backend=MemoryBackend(copies=copies),
        policies=POLICIES,
    )
    counter = itertools.count()
    # The same ids in both worlds, so their frames compare byte for byte.
    registry.new_connection_id = lambda: ConnectionId(f"c{next(counter):02d}")
    world = World(registry, clock)
    for index in range(9):
        policy = MESH.name if index >= 6 else NATIVE.name
        world.ids.append(registry.connect(f"127.0.0.{index + 1}", policy=policy))
    return world


def cast_lobbies(world: World) -> None:
    """Lobby A: host 0, guests 1 and 2, 3 pending. Lobby B (mesh): host 6, guests 7, 8. 4, 5 idle."""
    world.frame(0, "start_lobby")
    for guest in (1, 2, 3):
        world.frame(guest, "join_lobby", lobby_id=world.codes[0], name=f"g{guest}")
    for guest in (1, 2):
        world.frame(0, "accept_request", connection_id=world.ids[guest])
    world.frame(6, "start_lobby")
    for guest in (7, 8):
        world.frame(guest, "join_lobby", lobby_id=world.codes[6], name=f"m{guest}")
        world.frame(6, "accept_request", connection_id=world.ids[guest])


def relay_step(sender: int, target: int | str, kind: str, payload: int, ref: str | None) -> Step:
    def step(world: World) -> list[Effect]:
        target_id = world.ids[target] if isinstance(target, int) else target
        value = PAYLOADS[kind][payload % len(PAYLOADS[kind])]
        return world.frame(sender, kind, ref, connection_id=target_id, **{FIELD[kind]: value})

    return Step("relay", step)


@dataclass(frozen=True)
class Step:
    kind: str
    apply: Callable[[World], list[Effect]]


def other_step(name: str, actor: int, subject: int) -> Step:
    def step(world: World) -> list[Effect]:
        cid = world.ids[subject]
        if name == "accept":
            return world.frame(actor, "accept_request", connection_id=cid)
        if name == "kick":
            return world.frame(actor, "kick_guest", connection_id=cid)
        if name == "leave":
            return world.frame(actor, "leave_lobby")
        if name == "close":
            return world.frame(actor, "close_lobby")
        if name == "drop":
            return world.registry.disconnect(world.ids[actor])
        if name == "wait":
            world.clock.advance(0.05 * subject)
            return world.registry.expire()
        raise AssertionError(name)

    return Step(name, step)


people = st.integers(min_value=0, max_value=8)
relays = st.builds(
    relay_step,
    people,
    st.one_of(people, st.sampled_from(["*", "nobody", "c99"])),
    st.sampled_from(sorted(PAYLOADS)),
    st.integers(min_value=0, max_value=3),
    st.sampled_from([None, None, "r1", "x" * 70]),
)
others = st.builds(
    other_step,
    st.sampled_from(["accept", "kick", "leave", "close", "drop", "wait", "wait"]),
    people,
    people,
)
steps = st.lists(st.one_of(relays, relays, relays, others), min_size=1, max_size=40)


def compared(effects: list[Effect]) -> list[tuple[str, object]]:
    """Each effect as its target and frame (or close), as a connection would see it."""
    return [
        ("close", (effect.connection_id, effect.code, effect.reason))
        if isinstance(effect, CloseConnection)
        else (effect.target, (encode_event(effect.event, effect.ref), effect.origin))
        for effect in effects
    ]


def names(effects: list[Effect]) -> list[tuple[str, object]]:
    """Targets and event names only (other steps carry random lobby codes and tokens)."""
    return [
        ("close", effect.connection_id)
        if isinstance(effect, CloseConnection)
        else (effect.target, type(effect.event).__name__)
        for effect in effects
    ]


@pytest.mark.parametrize("copies", [False, True], ids=["live-objects", "stored-copies"])
@settings(max_examples=150, deadline=None)
@given(script=steps)
def test_relay_lane_says_what_the_full_rules_say(copies: bool, script: list[Step]) -> None:
    """Any mix of relays and lobby changes: the lane's answers equal the full rules', byte for byte."""
    lane = make_world(LobbyRegistry, copies)
    full = make_world(FullPathRegistry, copies)
    cast_lobbies(lane)
    cast_lobbies(full)
    for step in script:
        ours, theirs = step.apply(lane), step.apply(full)
        if step.kind == "relay":
            assert compared(ours) == compared(theirs)
        else:
            assert names(ours) == names(theirs)
    assert lane.registry.stats.relayed == full.registry.stats.relayed
    assert lane.registry.stats.errors == full.registry.stats.errors


def test_relay_lane_answers_host_and_guest_relays_in_one_step() -> None:
    """A host's and a guest's relays come back as one event each, with the undeliverable origin."""
    world = make_world(LobbyRegistry, copies=False)
    cast_lobbies(world)
    host, guest = world.ids[0], world.ids[1]
    candidate = json.dumps(
        {"action": "send_ice_candidate", "content": {"connection_id": host, "candidate": CANDIDATE}}
    )
    sent = world.registry.receive(guest, candidate)
    assert isinstance(sent, Send)
    assert sent.target == host
    assert sent.origin == Origin(guest, "send_ice_candidate", None)
    assert (
        decode_event(encode_event(sent.event)).event
        == decode_event(
            json.dumps(
                {
                    "event": "received_ice_candidate",
                    "content": {"connection_id": guest, "candidate": CANDIDATE},
                }
            )
        ).event
    )
    message = json.dumps(
        {
            "action": "send_message",
            "content": {"connection_id": guest, "data": [1]},
            "ref": "m1",
        }
    )
    back = world.registry.receive(host, message)
    assert isinstance(back, Send)
    assert back.origin == Origin(host, "send_message", "m1")
    # A broadcast is not the lane's: a list from the full rules, one event per guest.
    broadcast = json.dumps({"action": "send_message", "content": {"connection_id": "*", "data": 1}})
    assert [effect.target for effect in world.registry.handle(host, broadcast)] == [  # type: ignore[union-attr]
        world.ids[1],
        world.ids[2],
    ]
    assert world.registry.stats.relayed == 4
