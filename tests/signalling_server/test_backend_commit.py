"""One input's writes are stored all or nothing, on every backend and whenever Redis fails.

The Redis cases run a real redis-server. Redis going away mid-input is a
connection to it that breaks after a given number of commands (a test double
of the connection only: the backend, its script and Redis are the real ones);
a Redis refusing writes is a real ``maxmemory`` reached.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from typing import Any

import pytest
import redis

from signalling_server.backend import (
    Changes,
    LobbyConflict,
    StateBackend,
    TokenGrant,
)
from signalling_server.backend.redis import RedisBackend
from signalling_server.clock import ManualClock
from signalling_server.config import Limits
from signalling_server.effects import Send
from signalling_server.ids import ConnectionId, LobbyId
from signalling_server.lobby import Role
from signalling_server.protocol import encode_event
from signalling_server.registry import LobbyRegistry
from tests.signalling_server import backends
from tests.signalling_server.backends import stored_lobby
from tests.signalling_server.redis_faults import Outage, breaking_connection

#: Every backend kind, as a parametrized fixture.
backend = backends.backend


def test_a_commit_stores_every_kind_of_change_at_once(backend: StateBackend) -> None:
    """A lobby, its token, a claimed and a written record: one commit stores them all."""
    grant = TokenGrant(LobbyId("AAAAAA"), Role.HOST)
    backend.commit(
        Changes(
            added=[stored_lobby("AAAAAA")],
            tokens=[("tok", grant)],
            claimed_records=[("room", "r", b"1")],
            records=[("room", "s", b"2")],
        )
    )
    assert backend.get_lobby(LobbyId("AAAAAA")) is not None
    assert backend.get_token("tok") == grant
    assert (backend.get_record("room", "r"), backend.get_record("room", "s")) == (b"1", b"2")


def test_a_refused_commit_writes_nothing(backend: StateBackend) -> None:
    """A commit whose new lobby's code was taken meanwhile is refused whole: no token, no record."""
    assert backend.add_lobby(stored_lobby("BBBBBB"))
    assert backend.add_record("room", "taken", b"0")
    grant = TokenGrant(LobbyId("BBBBBB"), Role.HOST)
    with pytest.raises(LobbyConflict):
        backend.commit(
            Changes(
                added=[stored_lobby("BBBBBB")],
                tokens=[("tok", grant)],
                records=[("room", "x", b"")],
            )
        )
    with pytest.raises(LobbyConflict):
        backend.commit(
            Changes(tokens=[("tok", grant)], claimed_records=[("room", "taken", b"mine")])
        )
    assert backend.get_token("tok") is None
    assert backend.get_record("room", "x") is None
    assert backend.get_record("room", "taken") == b"0"


def test_a_commit_over_a_lobby_changed_elsewhere_writes_nothing(redis_url: str) -> None:
    """Two nodes change one lobby: the later commit is refused whole, its token not stored."""
    first, second = RedisBackend(redis_url), RedisBackend(redis_url)
    first.add_lobby(stored_lobby("CCCCCC"))
    mine, theirs = first.get_lobby(LobbyId("CCCCCC")), second.get_lobby(LobbyId("CCCCCC"))
    assert mine is not None and theirs is not None
    theirs.name = "theirs"
    second.commit(Changes(saved=[theirs]))
    mine.name = "mine"
    grant = TokenGrant(LobbyId("CCCCCC"), Role.GUEST)
    with pytest.raises(LobbyConflict):
        first.commit(Changes(saved=[mine], tokens=[("guest", grant)]))
    assert first.get_token("guest") is None
    stored = first.get_lobby(LobbyId("CCCCCC"))
    assert stored is not None and stored.name == "theirs"
    first.close()
    second.close()


class Node:
    """A registry on a Redis backend whose connection breaks as told, and its clients' inboxes."""

    def __init__(self, url: str, outage: Outage) -> None:
        self.backend = RedisBackend(url, connection_class=breaking_connection(outage))
        self.registry = LobbyRegistry(
            limits=Limits(password_hash_iterations=1), clock=ManualClock(), backend=self.backend
        )
        self.inbox: dict[ConnectionId, list[dict[str, Any]]] = {}
        self._addresses = itertools.count(1)

    def connect(self) -> ConnectionId:
        return self.registry.connect(f"127.0.0.{next(self._addresses)}")

    def act(self, cid: ConnectionId, action: str, **content: Any) -> None:
        frame = json.dumps({"action": action, "content": content})
        for effect in self.registry.handle(cid, frame):
            if isinstance(effect, Send):
                message = json.loads(encode_event(effect.event, effect.ref))
                self.inbox.setdefault(effect.target, []).append(message)

    def last(self, cid: ConnectionId) -> dict[str, Any]:
        message: dict[str, Any] = self.inbox[cid][-1]
        return message


def _stored(url: str) -> tuple[set[str], set[str]]:
    """The lobby codes and token ids in Redis, read with a client of its own."""
    client = redis.Redis.from_url(url, decode_responses=True)
    try:
        lobbies = {key.rpartition(":")[2] for key in client.scan_iter("lobbyhost:lobby:*")}
        tokens = {key.rpartition(":")[2] for key in client.scan_iter("lobbyhost:token:*")}
    finally:
        client.close()
    return lobbies, tokens


def _flush(url: str) -> None:
    client = redis.Redis.from_url(url)
    try:
        client.flushall()
    finally:
        client.close()


def _commands_of(url: str, run: Callable[[Node], None], before: Callable[[Node], None]) -> int:
    """How many Redis commands ``run`` sends on a node set up by ``before``."""
    outage = Outage()
    node = Node(url, outage)
    before(node)
    start = outage.sent
    run(node)
    node.backend.close()
    _flush(url)
    return outage.sent - start


def _start(node: Node) -> None:
    node.act(node.connect(), "start_lobby", ref="s")


def test_redis_going_away_while_a_lobby_starts_leaves_all_or_nothing(redis_url: str) -> None:
    """Redis gone after any number of an input's commands: a lobby is stored with its token or not at all."""
    total = _commands_of(redis_url, _start, lambda node: None)
    assert total >= 1
    for allowed in range(total + 1):
        outage = Outage()
        node = Node(redis_url, outage)
        outage.allowed = allowed
        host = node.connect()
        node.act(host, "start_lobby", ref="s")
        lobbies, tokens = _stored(redis_url)
        answer = node.last(host)
        if answer["event"] == "lobby_started":
            assert lobbies == {answer["content"]["lobby_id"]} and len(tokens) == 1, allowed
        else:
            assert answer["content"]["code"] == "server_unavailable", answer
            assert (lobbies, tokens) == (set(), set()), f"half written after {allowed} commands"
        node.backend.close()
        _flush(redis_url)


def test_redis_going_away_while_a_guest_is_accepted_leaves_all_or_nothing(redis_url: str) -> None:
    """Redis gone after any number of an accept's commands: the guest is in with a token, or neither."""
    state: dict[str, Any] = {}

    def before(node: Node) -> None:
        host, joiner = node.connect(), node.connect()
        node.act(host, "start_lobby")
        code = node.last(host)["content"]["lobby_id"]
        node.act(joiner, "join_lobby", lobby_id=code, name="Bob")
        state.update(host=host, joiner=joiner, code=code)

    def accept(node: Node) -> None:
        node.act(state["host"], "accept_request", connection_id=state["joiner"])

    total = _commands_of(redis_url, accept, before)
    for allowed in range(total + 1):
        outage = Outage()
        node = Node(redis_url, outage)
        before(node)
        _, host_tokens = _stored(redis_url)
        outage.allowed = outage.sent + allowed
        accept(node)
        _, tokens = _stored(redis_url)
        reader = RedisBackend(redis_url)
        lobby = reader.get_lobby(LobbyId(state["code"]))
        reader.close()
        assert lobby is not None
        guest_in = ConnectionId(state["joiner"]) in lobby.guests
        assert len(tokens - host_tokens) == (1 if guest_in else 0), allowed
        assert guest_in == (node.last(state["host"])["event"] == "guest_accepted"), allowed
        node.backend.close()
        _flush(redis_url)


def test_a_commit_whose_reply_is_lost_is_applied_once(redis_url: str) -> None:
    """Redis ran a commit but its reply was lost: sent again, it is applied once, and the input succeeds."""
    outage = Outage()
    node = Node(redis_url, outage)
    first, host = node.connect(), node.connect()
    node.act(first, "start_lobby")  # Redis has the commit script from now on
    outage.reply_lost = b"EVALSHA"  # the commit's script
    node.act(host, "start_lobby", ref="s")
    assert outage.reply_lost is None, "the reply was lost"
    assert node.last(host)["event"] == "lobby_started"
    codes = {node.last(cid)["content"]["lobby_id"] for cid in (first, host)}
    lobbies, tokens = _stored(redis_url)
    assert lobbies == codes and len(tokens) == 2
    node.backend.close()


def test_redis_refusing_writes_refuses_the_input_whole(redis_url: str) -> None:
    """Redis out of memory: the input gets server_unavailable, nothing is stored, the next one works."""
    outage = Outage()
    node = Node(redis_url, outage)
    admin = redis.Redis.from_url(redis_url)
    try:
        admin.config_set("maxmemory-policy", "noeviction")
        admin.config_set("maxmemory", 1)
        host = node.connect()
        node.act(host, "start_lobby", ref="s")
        assert node.last(host)["content"]["code"] == "server_unavailable"
        assert _stored(redis_url) == (set(), set())
    finally:
        admin.config_set("maxmemory", 0)
        admin.close()
    node.act(host, "start_lobby", ref="again")
    assert node.last(host)["event"] == "lobby_started"
    node.backend.close()


def test_lobbies_are_indexed_by_the_nodes_of_their_members(backend: StateBackend) -> None:
    """Which lobbies have a live member on a node follows every commit (for reaping a dead node)."""
    backend.commit(
        Changes(
            added=[
                stored_lobby("DDDDDD", host_connection="n1.a"),
                stored_lobby("EEEEEE", host_connection="n2.b"),
            ]
        )
    )
    assert backend.lobbies_held_by("n1") == [LobbyId("DDDDDD")]
    lobby = backend.get_lobby(LobbyId("EEEEEE"))
    assert lobby is not None
    lobby.host.connection_id = ConnectionId("n1.c")
    backend.commit(Changes(saved=[lobby]))
    assert backend.lobbies_held_by("n1") == [LobbyId("DDDDDD"), LobbyId("EEEEEE")]
    assert backend.lobbies_held_by("n2") == []
    backend.commit(Changes(removed=[LobbyId("DDDDDD")]))
    assert backend.lobbies_held_by("n1") == [LobbyId("EEEEEE")]
