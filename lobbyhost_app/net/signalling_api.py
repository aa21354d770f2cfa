"""The seam between the sessions and a signalling transport.

:class:`~lobbyhost_app.net.host.HostSession` and
:class:`~lobbyhost_app.net.guest.GuestSession` depend on :class:`Signalling`,
not on the websocket client: a fake (tests), or another transport, stands in.
Listeners get the server's events as protocol v1's typed structs
(:data:`~signalling_server.protocol.ServerEvent`) plus four events of the
client's own, about the connection itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from signalling_server.protocol import Action, ServerEvent, event_name

from .errors import NetError, ServerError

E = TypeVar("E")


@dataclass(frozen=True, slots=True)
class ConnectionLost:
    """The socket dropped; the client is reconnecting (it holds a resume token)."""


@dataclass(frozen=True, slots=True)
class ConnectionRestored:
    """A new socket is open and ``resume`` sent; ``resumed`` or :class:`ResumeFailed` follows."""


@dataclass(frozen=True, slots=True)
class ResumeFailed:
    """The server refused to give the place back (grace over, lobby closed)."""

    error: ServerError


@dataclass(frozen=True, slots=True)
class ConnectionClosed:
    """The connection is gone for good (not after :meth:`Signalling.close`)."""

    reason: str


ClientEvent = ConnectionLost | ConnectionRestored | ResumeFailed | ConnectionClosed
SignallingEvent = ServerEvent | ClientEvent
Listener = Callable[[SignallingEvent], None]
ErrorCallback = Callable[[ServerError], None]


class Signalling(Protocol):
    """What a session needs of its signalling connection."""

    #: The server's address, ``ws://host:port/``.
    url: str

    @property
    def connected(self) -> bool:
        """Whether actions go out now (not while reconnecting)."""
        ...

    @property
    def connection_id(self) -> str | None:
        """This client's connection id, once the server gave one."""
        ...

    async def connect(self) -> None: ...

    async def close(self) -> None:
        """Close for good; listeners get no :class:`ConnectionClosed` for it."""
        ...

    async def send(self, action: Action, *, on_error: ErrorCallback | None = None) -> None:
        """Send without waiting; ``on_error`` is called if the server refuses it."""
        ...

    async def request(self, action: Action) -> ServerEvent:
        """Send and return the reply; raises :class:`ServerError` or :class:`NetError`."""
        ...

    def add_listener(self, listener: Listener) -> None:
        """Call ``listener(event)`` for every event, in the order they arrive."""
        ...

    def remove_listener(self, listener: Listener) -> None: ...


def expect_reply(reply: ServerEvent, kind: type[E], action: Action) -> E:
    """``reply`` as the event ``action`` is answered with; :class:`NetError` if it is another."""
    if not isinstance(reply, kind):
        raise NetError(f"the server answered {action.NAME} with {event_name(reply)}")
    return reply
