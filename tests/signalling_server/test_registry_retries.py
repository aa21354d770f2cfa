"""An input applied again after a conflict spends its budgets once, and counts once.

Two registries on one real Redis; the first serves reads from a cache that
hears no announcements, so its copies go stale whenever the second changes a
lobby, and its next change there is refused and applied again on a fresh copy.
"""

from __future__ import annotations

import contextlib
import json
from collections import defaultdict, deque
from collections.abc import Iterator
from typing import Any

from signalling_server.backend.redis import RedisBackend
from signalling_server.clock import ManualClock
from signalling_server.cluster.timers import RedisTimers
from signalling_server.config import Limits
from signalling_server.effects import Send
from signalling_server.ids import ConnectionId
from signalling_server.protocol import encode_event
from signalling_server.registry import LobbyRegistry


class StaleAndFresh:
    """Registry 0 reads stale copies, registry 1 fresh ones; both share one Redis."""

    def __init__(self, url: str, limits: Limits) -> None:
        stale, fresh = RedisBackend(url), RedisBackend(url)
        stale.enable_cache()  # and no announcements reach it
        self.backends = [stale, fresh]
        clock = ManualClock()
        self.nodes = [LobbyRegistry(limits=limits, clock=clock, backend=b) for b in self.backends]
        self.home: dict[ConnectionId, LobbyRegistry] = {}
        self.inbox: dict[ConnectionId, deque[dict[str, Any]]] = defaultdict(deque)

    def connect(self, node: int, address: str) -> ConnectionId:
        cid = self.nodes[node].connect(address)
        self.home[cid] = self.nodes[node]
        return cid

    def act(self, cid: ConnectionId, action: str, **content: Any) -> dict[str, Any]:
        """Apply the action; what its sender was told last (the answer)."""
        frame = json.dumps({"action": action, "content": content})
        for effect in self.home[cid].handle(cid, frame):
            if isinstance(effect, Send):
                self.inbox[effect.target].append(json.loads(encode_event(effect.event, effect.ref)))
        answer: dict[str, Any] = self.inbox[cid][-1]
        return answer

    def started(self, node: int, address: str) -> tuple[ConnectionId, str]:
        host = self.connect(node, address)
        answer = self.act(host, "start_lobby")
        assert answer["event"] == "lobby_started", answer
        return host, answer["content"]["lobby_id"]

    def close(self) -> None:
        for backend in self.backends:
            backend.close()


@contextlib.contextmanager
def stale_and_fresh(url: str, limits: Limits) -> Iterator[StaleAndFresh]:
    lab = StaleAndFresh(url, limits)
    try:
        yield lab
    finally:
        lab.close()


def _make_stale(lab: StaleAndFresh, code: str, address: str) -> None:
    """Registry 0 caches the lobby, then registry 1 changes it (a join from ``address``)."""
    reader = lab.connect(0, "127.0.0.90")
    assert lab.act(reader, "join_lobby", lobby_id=code, name="Reader")["event"] == "join_requested"
    changer = lab.connect(1, address)
    assert (
        lab.act(changer, "join_lobby", lobby_id=code, name="Changer")["event"] == "join_requested"
    )


def test_a_join_applied_again_spends_one_join_attempt(redis_url: str) -> None:
    """A join refused on a stale copy and applied again costs its address one attempt, not two."""
    with stale_and_fresh(
        redis_url, Limits(password_hash_iterations=1, joins_per_address_per_minute=2)
    ) as lab:
        _, code = lab.started(1, "127.0.0.1")
        _make_stale(lab, code, "127.0.0.91")
        bob = lab.connect(0, "127.0.0.2")
        assert lab.act(bob, "join_lobby", lobby_id=code, name="Bob")["event"] == "join_requested"
        assert lab.act(bob, "cancel_join")["event"] == "join_cancelled"
        assert lab.act(bob, "join_lobby", lobby_id=code, name="Bob")["event"] == "join_requested"
        assert lab.act(bob, "cancel_join")["event"] == "join_cancelled"
        third = lab.act(bob, "join_lobby", lobby_id=code, name="Bob")
        assert third["content"]["code"] == "rate_limited", third


def test_a_resume_applied_again_spends_one_attempt(redis_url: str) -> None:
    """A resume refused on a stale copy and applied again costs its address one attempt."""
    with stale_and_fresh(
        redis_url, Limits(password_hash_iterations=1, joins_per_address_per_minute=2)
    ) as lab:
        host, code = lab.started(1, "127.0.0.1")
        guest = lab.connect(1, "127.0.0.3")
        lab.act(guest, "join_lobby", lobby_id=code, name="Gus")
        token = lab.act(host, "accept_request", connection_id=guest)
        assert token["event"] == "guest_accepted"
        guest_token = lab.inbox[guest][-1]["content"]["guest_token"]
        lab.inbox[host].clear()
        _make_stale(lab, code, "127.0.0.92")
        back = lab.connect(0, "127.0.0.4")
        assert lab.act(back, "resume", token=guest_token)["event"] == "resumed"
        wrong = lab.connect(0, "127.0.0.4")
        refused = lab.act(wrong, "resume", token="x.y")
        assert refused["content"]["code"] == "invalid_token", refused
        spent = lab.act(wrong, "resume", token="x.y")
        assert spent["content"]["code"] == "rate_limited", spent


def test_a_close_applied_again_frees_one_lobby_of_the_budget(redis_url: str) -> None:
    """A close refused on a stale copy and applied again frees one lobby of its address's budget."""
    with stale_and_fresh(
        redis_url, Limits(password_hash_iterations=1, lobbies_per_address=2)
    ) as lab:
        first, code = lab.started(0, "127.0.0.5")
        lab.started(0, "127.0.0.5")
        _make_stale(lab, code, "127.0.0.93")
        assert lab.act(first, "close_lobby")["event"] == "lobby_closed"
        # Applied again on a fresh copy: the joiner the stale copy did not know is told too.
        changer = next(cid for cid in lab.inbox if lab.home[cid] is lab.nodes[1])
        assert lab.inbox[changer][-1]["event"] == "lobby_closed"
        assert lab.nodes[0].stats.lobbies_started == 2
        lab.started(0, "127.0.0.5")  # two open again: the budget
        over = lab.act(lab.connect(0, "127.0.0.5"), "start_lobby")
        assert over["content"]["code"] == "rate_limited", over


def test_a_join_applied_again_plans_its_request_timer_once(redis_url: str) -> None:
    """A join applied again after a conflict leaves one expiry timer for its request, not two."""
    with stale_and_fresh(redis_url, Limits(password_hash_iterations=1)) as lab:
        key = "lobbyhost:test-timers"
        for node, backend in zip(lab.nodes, lab.backends, strict=True):
            node.shared_timers = RedisTimers(backend.client, key, poll_interval=0.1)
        _, code = lab.started(1, "127.0.0.1")
        _make_stale(lab, code, "127.0.0.94")
        client = lab.backends[1].client
        planned = client.zcard(key)
        bob = lab.connect(0, "127.0.0.2")
        assert lab.act(bob, "join_lobby", lobby_id=code, name="Bob")["event"] == "join_requested"
        assert client.zcard(key) == planned + 1
        # and the one planned is for Bob's request
        entries = client.zrange(key, 0, -1)
        assert sum(bob.encode() in entry for entry in entries) == 1
