"""Drive a LobbyRegistry directly: a manual clock, and an inbox per client."""

from __future__ import annotations

import json
from collections import defaultdict, deque
from typing import Any

from signalling_server.backend import StateBackend
from signalling_server.clock import ManualClock
from signalling_server.config import Limits, Timeouts
from signalling_server.ice import IceConfig
from signalling_server.ids import ConnectionId
from signalling_server.policy import NATIVE
from signalling_server.protocol import encode_event
from signalling_server.registry import CloseConnection, Effect, LobbyRegistry


def frames(effects: list[Effect]) -> list[tuple[ConnectionId, bytes]]:
    """The ``(target, frame)`` pairs the native codec writes for these effects' events."""
    return [
        (effect.target, encode_event(effect.event, effect.ref))
        for effect in effects
        if not isinstance(effect, CloseConnection)
    ]


class Harness:
    """A registry, its clock, and what every connection has been sent."""

    def __init__(
        self,
        *,
        limits: Limits | None = None,
        timeouts: Timeouts | None = None,
        ice: IceConfig | None = None,
        backend: StateBackend | None = None,
        policy: str = NATIVE.name,
    ) -> None:
        self.clock = ManualClock()
        self.registry = LobbyRegistry(
            limits=limits or Limits(password_hash_iterations=1),
            timeouts=timeouts,
            ice=ice,
            clock=self.clock,
            backend=backend,
        )
        #: The policy of the lobbies this harness's clients start.
        self.policy = policy
        self.inbox: dict[ConnectionId, deque[dict[str, Any]]] = defaultdict(deque)
        self.closes: list[CloseConnection] = []

    def client(self, address: str = "127.0.0.1") -> Client:
        return Client(self, self.registry.connect(address, policy=self.policy), address)

    def apply(self, effects: list[Effect]) -> None:
        for effect in effects:
            if isinstance(effect, CloseConnection):
                self.closes.append(effect)
            else:
                self.inbox[effect.target].append(json.loads(encode_event(effect.event, effect.ref)))

    def advance(self, seconds: float) -> None:
        """Move time on and fire the timers that fall due."""
        self.clock.advance(seconds)
        self.apply(self.registry.expire())

    def assert_all_silent(self) -> None:
        pending = {cid: list(box) for cid, box in self.inbox.items() if box}
        assert not pending, f"undelivered events: {pending}"


class Client:
    """One connection to the registry."""

    def __init__(self, harness: Harness, connection_id: ConnectionId, address: str) -> None:
        self.harness = harness
        self.id = connection_id
        self.address = address

    def act(self, action: str, ref: str | None = None, **content: Any) -> None:
        """Send an action (content as keyword arguments)."""
        frame: dict[str, Any] = {"action": action, "content": content}
        if ref is not None:
            frame["ref"] = ref
        self.raw(json.dumps(frame))

    def raw(self, frame: str | bytes) -> None:
        self.harness.apply(self.harness.registry.handle(self.id, frame))

    def disconnect(self) -> None:
        self.harness.apply(self.harness.registry.disconnect(self.id))

    def next(self) -> dict[str, Any]:
        box = self.harness.inbox[self.id]
        assert box, "expected an event, got none"
        return box.popleft()

    def expect(self, event: str) -> dict[str, Any]:
        """Take the next event, check its name, return its content."""
        message = self.next()
        assert message["event"] == event, f"expected {event}, got {message}"
        content: dict[str, Any] = message["content"]
        return content

    def expect_error(self, code: str, action: str | None = None) -> dict[str, Any]:
        content = self.expect("error")
        assert content["code"] == code, content
        assert isinstance(content["message"], str) and content["message"]
        if action is not None:
            assert content["action"] == action, content
        return content

    def assert_silent(self) -> None:
        box = self.harness.inbox[self.id]
        assert not box, f"unexpected events: {list(box)}"


def open_lobby(h: Harness, **content: Any) -> tuple[Client, str, str]:
    """A host with a fresh lobby: ``(host, lobby_id, host_token)``."""
    host = h.client()
    host.act("start_lobby", **content)
    started = host.expect("lobby_started")
    return host, started["lobby_id"], started["host_token"]


def join(h: Harness, host: Client, lobby_id: str, name: str = "Guest", **extra: Any) -> Client:
    """A joiner whose request is pending; the host has seen ``request_to_join``."""
    guest = h.client(extra.pop("address", "127.0.0.2"))
    guest.act("join_lobby", lobby_id=lobby_id, name=name, **extra)
    guest.expect("join_requested")
    host.expect("request_to_join")
    return guest


def accept(
    h: Harness, host: Client, lobby_id: str, name: str = "Guest", **extra: Any
) -> tuple[Client, str]:
    """An accepted guest: ``(guest, guest_token)``."""
    guest = join(h, host, lobby_id, name, **extra)
    host.act("accept_request", connection_id=guest.id)
    accepted = guest.expect("request_accepted")
    host.expect("guest_accepted")
    return guest, accepted["guest_token"]
