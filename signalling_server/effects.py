"""What the core asks the I/O layer to do: send an event to a connection, close one.

``Send`` and ``Origin`` are made for every relayed message, so they are plain
slotted dataclasses (a frozen one costs a slower ``__init__``); nobody changes
them after the registry made them.

The registry returns these from every input; a :class:`~signalling_server.node.SignallingNode`
carries them out, encoding each event with the codec of the connection it is for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from .ids import ConnectionId
from .protocol.events import Event

#: Close code for a socket whose place was taken over by ``resume``.
CLOSE_RESUMED_ELSEWHERE: Final = 4000
#: Close code for a server shutting down ("going away").
CLOSE_GOING_AWAY: Final = 1001
#: Close code for a client too slow to read what it is sent.
CLOSE_TOO_SLOW: Final = 1013
#: Close code for a client that keeps sending far past its action rate limit.
CLOSE_OVER_RATE_LIMIT: Final = 1008


@dataclass(slots=True)
class Origin:
    """The action an effect answers: who sent it, its name and ``ref``.

    A relay that cannot be delivered is reported to ``sender`` with these.
    """

    sender: ConnectionId
    action: str | None
    ref: str | None


@dataclass(slots=True)
class Send:
    """Tell ``target`` an event (with the ``ref`` of the action it answers, if any)."""

    target: ConnectionId
    event: Event
    ref: str | None = None
    #: Set on relays: who must hear of it if the event cannot be delivered.
    origin: Origin | None = None


@dataclass(frozen=True, slots=True)
class CloseConnection:
    """Close this connection's socket with a websocket close code."""

    connection_id: ConnectionId
    code: int
    reason: str


Effect = Send | CloseConnection
