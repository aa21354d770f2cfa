"""A registry with the Camus rules on a manual clock, and members that speak Camus frames to it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from signalling_server.backend import MemoryBackend
from signalling_server.clock import ManualClock
from signalling_server.config import Limits
from signalling_server.dialects.camus.codec import CamusCodec
from signalling_server.dialects.camus.outcomes import Admitted, Created, CreateRoom, Entered
from signalling_server.dialects.camus.rules import CamusRules
from signalling_server.effects import CloseConnection, Effect, Send
from signalling_server.ice import IceConfig
from signalling_server.ids import ConnectionId
from signalling_server.registry import LobbyRegistry

GROUND_CONTROL = "ground control"


@dataclass
class Socket:
    """One member's websocket as the registry sees it."""

    connection_id: ConnectionId
    codec: CamusCodec

    @property
    def member_id(self) -> str:
        return self.codec.member_id


@dataclass
class Outcome:
    """What one input made: frames per socket (as each socket's codec writes them) and closes."""

    frames: dict[ConnectionId, list[dict[str, Any]]] = field(default_factory=dict)
    closed: dict[ConnectionId, tuple[int, str]] = field(default_factory=dict)
    #: Events no Camus client would hear (native errors), by target.
    silent: list[ConnectionId] = field(default_factory=list)

    def to(self, socket: Socket) -> list[dict[str, Any]]:
        return self.frames.get(socket.connection_id, [])

    @property
    def nothing(self) -> bool:
        return not self.frames and not self.closed


class CamusLab:
    """The Camus rules in a registry of their own, driven by hand."""

    def __init__(
        self,
        *,
        scale: float = 1.0,
        ice: IceConfig | None = None,
        copies: bool = True,
        **caps: int,
    ) -> None:
        self.clock = ManualClock()
        self.registry = LobbyRegistry(
            limits=Limits(password_hash_iterations=1),
            clock=self.clock,
            ice=ice,
            backend=MemoryBackend(copies=copies),
            dialect_time_scale=scale,
        )
        self.rules = CamusRules(self.registry, **caps)
        self.registry.add_dialect(self.rules)
        self._codecs: dict[ConnectionId, CamusCodec] = {}

    # The room pages ------------------------------------------------------------------------

    def create(self, name: str, **settings: Any) -> Created:
        created, _ = self.registry.run(
            lambda: self.rules.create_room(CreateRoom(name=name, **settings))
        )
        return created

    def enter(self, slug: str, password: str | None = None) -> Entered:
        entered, _ = self.registry.run(lambda: self.rules.enter_room(slug, password))
        return entered

    def admit(self, slug: str, *cookies: str) -> Admitted:
        """Whether a websocket for ``slug`` carrying ``cookies`` would open."""
        admitted, _ = self.registry.run(lambda: self.rules.admit_socket(slug, cookies))
        return admitted

    def room_with(self, name: str, members: int, **settings: Any) -> list[Socket]:
        """A new room and ``members`` members, each with an open socket."""
        slug = self.create(name, **settings).slug
        return [self.connect(slug, self.enter(slug).member_id) for _ in range(members)]

    # Sockets -------------------------------------------------------------------------------

    def connect(self, slug: str, member_id: str, address: str = "127.0.0.5") -> Socket:
        socket, _ = self.connect_seeing(slug, member_id, address)
        return socket

    def connect_seeing(
        self, slug: str, member_id: str, address: str = "127.0.0.5"
    ) -> tuple[Socket, Outcome]:
        codec = CamusCodec(slug, member_id, max_frame_bytes=self.registry.limits.max_frame_bytes)
        connection_id = self.registry.connect(address, codec)
        self._codecs[connection_id] = codec
        return Socket(connection_id, codec), self.read(self.registry.opened(connection_id))

    def send(self, socket: Socket, frame: Any) -> Outcome:
        """A frame from ``socket`` (a dict is sent as JSON; ``str``/``bytes`` as they are)."""
        raw = frame if isinstance(frame, str | bytes) else json.dumps(frame)
        return self.read(self.registry.handle(socket.connection_id, raw))

    def say(self, socket: Socket, receiver: str, kind: str, data: Any = None) -> Outcome:
        message: dict[str, Any] = {"receiver": receiver, "type": kind}
        if data is not None:
            message["data"] = data
        return self.send(socket, message)

    def drop(self, socket: Socket) -> Outcome:
        return self.read(self.registry.disconnect(socket.connection_id))

    def advance(self, seconds: float) -> Outcome:
        """Move the clock and fire what is due."""
        self.clock.advance(seconds)
        return self.read(self.registry.expire())

    def read(self, effects: list[Effect]) -> Outcome:
        outcome = Outcome()
        for effect in effects:
            if isinstance(effect, CloseConnection):
                outcome.closed[effect.connection_id] = (effect.code, effect.reason)
                continue
            assert isinstance(effect, Send)
            codec = self._codecs.get(effect.target)
            frame = None if codec is None else codec.encode(effect.event, effect.ref)
            if frame is None:
                outcome.silent.append(effect.target)
            else:
                outcome.frames.setdefault(effect.target, []).append(json.loads(frame))
        return outcome

    @property
    def rooms(self) -> int:
        return self.rules.room_count()


def frame(sender: str, receiver: str, kind: str, data: Any = None) -> dict[str, Any]:
    """A server frame as a Camus client reads it: all four keys."""
    return {"sender": sender, "receiver": receiver, "type": kind, "data": data}
