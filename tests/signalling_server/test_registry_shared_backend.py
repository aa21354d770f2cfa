"""Two registries on one shared backend that hands out copies, as two server processes on Redis.

Run on the copying memory backend and on a real Redis (each registry with its
own client, as two processes have).

Cross-process delivery is not this layer's job: here a tiny router hands each
effect to the registry that holds its target, as a bus between nodes would.
What this proves is that no rule assumes it owns every connection or every
lobby: nothing crashes, every action's changes are committed where the other
registry sees them, and shutting one down leaves the other's lobbies alone.
"""

from __future__ import annotations

import json
from collections import defaultdict, deque
from collections.abc import Iterator
from typing import Any

import pytest

from signalling_server.backend import MemoryBackend, StateBackend
from signalling_server.backend.redis import RedisBackend
from signalling_server.clock import ManualClock
from signalling_server.config import Limits
from signalling_server.effects import CloseConnection, Effect, Send
from signalling_server.ids import ConnectionId
from signalling_server.protocol import encode_event
from signalling_server.registry import LobbyRegistry


class TwoNodes:
    """Two registries, one copying backend, and the inbox of every connection."""

    def __init__(self, backends: list[StateBackend]) -> None:
        self.clock = ManualClock()
        self.backend = backends[0]
        limits = Limits(password_hash_iterations=1)
        self.nodes = [
            LobbyRegistry(limits=limits, clock=self.clock, backend=backend) for backend in backends
        ]
        self.home: dict[ConnectionId, LobbyRegistry] = {}
        self.inbox: dict[ConnectionId, deque[dict[str, Any]]] = defaultdict(deque)
        self.closed: list[CloseConnection] = []

    def connect(self, node: int, address: str) -> ConnectionId:
        registry = self.nodes[node]
        cid = registry.connect(address)
        self.home[cid] = registry
        return cid

    def act(self, cid: ConnectionId, action: str, **content: Any) -> None:
        self.route(self.home[cid].handle(cid, json.dumps({"action": action, "content": content})))

    def route(self, effects: list[Effect]) -> None:
        for effect in effects:
            if isinstance(effect, Send):
                message = json.loads(encode_event(effect.event, effect.ref))
                self.inbox[effect.target].append(message)
            else:
                self.closed.append(effect)

    def expect(self, cid: ConnectionId, event: str) -> dict[str, Any]:
        box = self.inbox[cid]
        assert box, f"{cid} got nothing, expected {event}"
        message = box.popleft()
        assert message["event"] == event, message
        content: dict[str, Any] = message["content"]
        return content


@pytest.fixture(params=["memory-copies", "redis"])
def lab(request: pytest.FixtureRequest) -> Iterator[TwoNodes]:
    """Two registries on the copying memory backend, or each with its own client of one Redis."""
    if request.param == "memory-copies":
        shared = MemoryBackend(copies=True)
        yield TwoNodes([shared, shared])
        return
    url = request.getfixturevalue("redis_url")
    backends = [RedisBackend(url), RedisBackend(url)]
    yield TwoNodes(list(backends))
    for backend in backends:
        backend.close()


def test_a_lobby_flows_across_two_registries(lab: TwoNodes) -> None:
    """Host on one registry, guests on the other: join, accept, relay, kick, leave, close."""
    host = lab.connect(0, "127.0.0.1")
    lab.act(host, "start_lobby", display_name="Ann")
    code = lab.expect(host, "lobby_started")["lobby_id"]
    bob = lab.connect(1, "127.0.0.2")
    lab.act(bob, "join_lobby", lobby_id=code, name="Bob")
    lab.expect(bob, "join_requested")
    assert lab.expect(host, "request_to_join") == {"connection_id": bob, "name": "Bob"}
    lab.act(host, "accept_request", connection_id=bob)
    assert lab.expect(bob, "request_accepted")["peer_id"] == 2
    assert lab.expect(host, "guest_accepted")["connection_id"] == bob
    lab.act(bob, "send_message", connection_id=host, data="hello")
    assert lab.expect(host, "received_message") == {"connection_id": bob, "data": "hello"}
    lab.act(host, "send_message", connection_id=bob, data="hi")
    assert lab.expect(bob, "received_message") == {"connection_id": host, "data": "hi"}
    assert lab.nodes[1].role_of(bob).value == "guest"
    lab.act(host, "kick_guest", connection_id=bob, message="sorry")
    assert lab.expect(bob, "kicked")["message"] == "sorry"
    lab.expect(host, "guest_left")
    assert lab.nodes[1].role_of(bob).value == "idle"
    lab.act(bob, "send_message", connection_id=host, data="still here?")
    lab.expect(bob, "error")
    cy = lab.connect(1, "127.0.0.3")
    lab.act(cy, "join_lobby", lobby_id=code)
    lab.expect(cy, "join_requested")
    lab.expect(host, "request_to_join")
    lab.act(cy, "cancel_join")
    lab.expect(cy, "join_cancelled")
    lab.expect(host, "request_cancelled")
    lab.act(host, "close_lobby")
    lab.expect(host, "lobby_closed")
    assert lab.backend.lobby_count() == 0


def test_disconnects_and_timers_on_the_other_registry(lab: TwoNodes) -> None:
    """A guest dropping from its registry and the host's grace expiring there are told to the right people."""
    host = lab.connect(0, "127.0.0.1")
    lab.act(host, "start_lobby")
    code = lab.expect(host, "lobby_started")["lobby_id"]
    bob = lab.connect(1, "127.0.0.2")
    lab.act(bob, "join_lobby", lobby_id=code)
    lab.expect(bob, "join_requested")
    lab.expect(host, "request_to_join")
    lab.act(host, "accept_request", connection_id=bob)
    token = lab.expect(bob, "request_accepted")["guest_token"]
    lab.expect(host, "guest_accepted")
    lab.route(lab.nodes[1].disconnect(bob))
    assert lab.expect(host, "guest_left") == {"connection_id": bob, "reason": "disconnected"}
    back = lab.connect(0, "127.0.0.2")  # resumes on the other registry
    lab.act(back, "resume", token=token)
    assert lab.expect(back, "resumed")["role"] == "guest"
    assert lab.expect(host, "guest_resumed") == {"old_connection_id": bob, "connection_id": back}
    lab.route(lab.nodes[0].disconnect(host))
    lab.expect(back, "host_disconnected")
    lab.clock.advance(31)
    lab.route(lab.nodes[0].expire())
    lab.route(lab.nodes[1].expire())
    assert lab.expect(back, "lobby_closed")["reason"] == "host_left"
    assert not lab.inbox[back], "told exactly once although both registries ran their timers"


def test_shutting_one_registry_down_leaves_the_other_lobbies_alone(lab: TwoNodes) -> None:
    """shutdown() closes the lobbies hosted here only; a lobby hosted on the other registry lives on."""
    here = lab.connect(0, "127.0.0.1")
    lab.act(here, "start_lobby")
    mine = lab.expect(here, "lobby_started")["lobby_id"]
    there = lab.connect(1, "127.0.0.2")
    lab.act(there, "start_lobby")
    theirs = lab.expect(there, "lobby_started")["lobby_id"]
    guest = lab.connect(0, "127.0.0.3")
    lab.act(guest, "join_lobby", lobby_id=theirs)
    lab.expect(guest, "join_requested")
    lab.expect(there, "request_to_join")
    lab.route(lab.nodes[0].shutdown())
    assert lab.expect(here, "lobby_closed") == {"lobby_id": mine, "reason": "server_shutdown"}
    assert {c.connection_id for c in lab.closed} == {here, guest}
    lab.route(lab.nodes[0].disconnect(guest))
    assert lab.expect(there, "request_cancelled") == {"connection_id": guest}
    assert [lobby.lobby_id for lobby in lab.backend.lobbies()] == [theirs]


def test_a_change_on_a_stale_copy_is_applied_again_on_a_fresh_one(redis_url: str) -> None:
    """A node acting on a lobby another node changed meanwhile loses neither change, nor repeats itself."""
    stale, other = RedisBackend(redis_url), RedisBackend(redis_url)
    stale.enable_cache()  # and no announcements reach it: its copy goes stale
    lab = TwoNodes([stale, other])
    host = lab.connect(0, "127.0.0.1")
    lab.act(host, "start_lobby")
    code = lab.expect(host, "lobby_started")["lobby_id"]
    bob = lab.connect(1, "127.0.0.2")
    lab.act(bob, "join_lobby", lobby_id=code, name="Bob")
    lab.expect(bob, "join_requested")
    lab.expect(host, "request_to_join")
    lab.act(host, "set_lobby_open", open=False)
    assert lab.expect(host, "lobby_info")["open"] is False
    assert not lab.inbox[host], "told once, though the action ran twice"
    stored = other.get_lobby(code)
    assert stored is not None and stored.open is False and bob in stored.pending
    stale.close()
    other.close()
