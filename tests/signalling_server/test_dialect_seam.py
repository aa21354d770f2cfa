"""The dialect seam: a toy dialect's actions, greetings, disconnects, timers and records in the core."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, ClassVar

import msgspec

from signalling_server.clock import ManualClock
from signalling_server.config import Limits
from signalling_server.dialect import ActionHandler
from signalling_server.effects import Send
from signalling_server.ids import ConnectionId
from signalling_server.lobby import Connection, Lobby, Role
from signalling_server.protocol import Action, Decoded, Event, NativeCodec, encode_event
from signalling_server.registry import LobbyRegistry
from signalling_server.transport import WebsocketRoutes


class Shout(Action, frozen=True):
    NAME: ClassVar[str] = "shout"
    text: str


class Heard(Event, frozen=True, tag="heard"):
    text: str
    count: int


class Hello(Event, frozen=True, tag="hello"):
    pass


class ToyCodec:
    """Native frames, plus a ``shout`` action; says nothing for ``pong``."""

    name = "toy"

    def __init__(self) -> None:
        self._native = NativeCodec()

    def decode(self, frame: str | bytes) -> Decoded:
        message = json.loads(frame)
        if message.get("action") == "shout":
            return Decoded("shout", Shout(message["text"]), None)
        return self._native.decode(frame)

    def encode(self, event: Event, ref: str | None = None) -> bytes | None:
        if event.__struct_config__.tag == "pong":
            return None
        return encode_event(event, ref)


class ToyRules:
    """Counts shouts in a record; greets on connect; forgets the count on a timer."""

    name = "toy"

    def __init__(self, registry: LobbyRegistry) -> None:
        self.registry = registry
        self.gone: list[ConnectionId] = []

    def handlers(self) -> Mapping[type[Action], ActionHandler]:
        return {Shout: self._shout}

    def connected(self, conn: Connection) -> None:
        self.registry.send(conn.connection_id, Hello())

    def disconnected(self, conn: Connection) -> bool:
        self.gone.append(conn.connection_id)
        return True

    def member_lost(self, lobby: Lobby, role: Role, connection_id: ConnectionId) -> bool:
        return False

    def expire(self, key: str, sub: str, deadline: float) -> None:
        self.registry.tx.remove_record("toy-count", key)

    def room_count(self) -> int:
        return len(self.registry.backend.record_keys("toy-count"))

    def _shout(self, conn: Connection, action: Shout, ref: str | None) -> None:
        tx = self.registry.tx
        raw = tx.record("toy-count", conn.address)
        count = 1 if raw is None else msgspec.msgpack.decode(raw, type=int) + 1
        tx.put_record("toy-count", conn.address, msgspec.msgpack.encode(count))
        if raw is None:
            self.registry.schedule(10.0, self.name, conn.address)
        self.registry.send(conn.connection_id, Heard(action.text, count), ref)


def _registry() -> tuple[LobbyRegistry, ToyRules, ManualClock]:
    clock = ManualClock()
    registry = LobbyRegistry(
        limits=Limits(password_hash_iterations=1), clock=clock, dialect_time_scale=0.5
    )
    rules = ToyRules(registry)
    registry.add_dialect(rules)
    return registry, rules, clock


def _sent(effects: list[Any]) -> list[Event]:
    return [e.event for e in effects if isinstance(e, Send)]


def _events(effects: list[Any]) -> list[str]:
    return [str(event.__struct_config__.tag) for event in _sent(effects)]


def test_a_dialect_greets_handles_its_actions_and_hears_disconnects() -> None:
    """Greeting on open, the dialect's own action, native actions still native, disconnect to the dialect."""
    registry, rules, _ = _registry()
    cid = registry.connect("127.0.0.5", ToyCodec())
    assert _events(registry.opened(cid)) == ["hello"]
    assert _sent(registry.handle(cid, '{"action":"shout","text":"hey"}')) == [Heard("hey", 1)]
    assert _sent(registry.handle(cid, '{"action":"shout","text":"ho"}')) == [Heard("ho", 2)]
    assert _events(registry.handle(cid, '{"action":"ping"}')) == ["pong"]
    assert registry.dialect_room_count() == 1
    registry.disconnect(cid)
    assert rules.gone == [cid]


def test_dialect_timers_run_scaled_and_native_connections_never_reach_the_dialect() -> None:
    """A dialect timer fires after delay x dialect_time_scale; a native connection is not greeted."""
    registry, _, clock = _registry()
    toy = registry.connect("127.0.0.5", ToyCodec())
    registry.handle(toy, '{"action":"shout","text":"hey"}')
    clock.advance(4.9)
    registry.expire()
    assert registry.dialect_room_count() == 1
    clock.advance(0.2)  # 10 s x 0.5
    registry.expire()
    assert registry.dialect_room_count() == 0
    native = registry.connect("127.0.0.6")
    assert registry.opened(native) == []
    refused = registry.handle(native, '{"action":"shout","text":"x"}')
    assert [e.event.code for e in refused] == ["unknown_action"]  # type: ignore[union-attr]


def test_websocket_routes_match_exact_paths_and_whole_prefixes() -> None:
    """A prefix route covers the path and what is under it, never a longer name; exact paths win."""
    routes = WebsocketRoutes()

    openers = {name: (lambda _request: NativeCodec()) for name in ("native", "bellhop", "special")}
    routes.add("/", openers["native"])
    routes.add("/bellhop", openers["bellhop"], prefix=True)
    routes.add("/bellhop/special", openers["special"])
    names = {id(opener): name for name, opener in openers.items()}
    found = {
        path: None if (opener := routes.lookup(path)) is None else names[id(opener)]
        for path in ("/", "/bellhop", "/bellhop/production", "/bellhopx", "/bellhop/special", "/x")
    }
    assert found == {
        "/": "native",
        "/bellhop": "bellhop",
        "/bellhop/production": "bellhop",
        "/bellhopx": None,
        "/bellhop/special": "special",
        "/x": None,
    }
