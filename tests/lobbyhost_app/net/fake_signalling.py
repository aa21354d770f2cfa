"""A :class:`Signalling` without a network: records actions, delivers the events a test feeds."""

from __future__ import annotations

import msgspec

from lobbyhost_app.net.errors import ServerError
from lobbyhost_app.net.signalling_api import ErrorCallback, Listener, SignallingEvent
from signalling_server.protocol import (
    Action,
    JoinLobby,
    JoinRequested,
    LobbyStarted,
    Pong,
    ServerEvent,
    StartLobby,
)


def default_reply(action: Action) -> ServerEvent:
    """What a server answers to the actions sessions read replies of; ``pong`` to the rest."""
    match action:
        case StartLobby():
            return LobbyStarted("ABC123", "host-1", "host-token", 1, [])
        case JoinLobby(lobby_id=lobby_id):
            return JoinRequested(lobby_id, "Ann's lobby")
        case _:
            return Pong(msgspec.Raw(b"null"))  # replies the sessions do not read


class FakeSignalling:
    """Stands in for the websocket client in front of a session (``Signalling``)."""

    def __init__(self) -> None:
        self.connected = True
        self.url = "ws://signalling.invalid/"
        self.connection_id: str | None = "me"
        self.sent: list[Action] = []
        #: Set to make the next request fail with this error.
        self.refuse_next: ServerError | None = None
        self._listeners: list[Listener] = []

    async def connect(self) -> None:
        self.connected = True

    async def close(self) -> None:
        self.connected = False

    async def send(self, action: Action, *, on_error: ErrorCallback | None = None) -> None:
        self.sent.append(action)

    async def request(self, action: Action) -> ServerEvent:
        self.sent.append(action)
        refused, self.refuse_next = self.refuse_next, None
        if refused is not None:
            raise refused
        return default_reply(action)

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        self._listeners.remove(listener)

    def feed(self, event: SignallingEvent) -> None:
        """Deliver ``event`` as if the server (or the connection) had just said it."""
        for listener in list(self._listeners):
            listener(event)
