"""The Camus vocabulary: the one action a member's frame becomes, and what the server says.

Every Camus frame is ``{sender, receiver, type, data}``. A client frame becomes
:class:`CamusFrame` (the ``sender`` it claims is never read: the server knows
who sent it). Server frames are the events below; the codec of the connection
they go to writes them with that member's id as ``receiver``, so a message to
``"room"`` is rewritten per recipient without the rules copying it.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Final

import msgspec

from ...protocol.actions import NULL, Action
from ...protocol.events import Event, IceServerInfo

#: The server's own address in ``sender`` and ``receiver``.
GROUND_CONTROL: Final = "ground control"
#: The ``receiver`` that means every member of the sender's room, the sender included.
ROOM: Final = "room"

#: Receivers are member ids (32 hex digits) or the two names above.
Receiver = Annotated[str, msgspec.Meta(max_length=64)]
MessageType = Annotated[str, msgspec.Meta(max_length=64)]


class CamusFrame(Action, frozen=True):
    """One frame of a member: to ground control, to the room, or to one member."""

    NAME: ClassVar[str] = "camus"
    receiver: Receiver | None = None
    type: MessageType | None = None
    #: Any JSON value, forwarded as sent.
    data: msgspec.Raw = NULL


class ClientInfo(msgspec.Struct, frozen=True):
    """A member as ``room-info`` lists it."""

    id: str
    username: str


class Relayed(Event, frozen=True, tag="camus_relayed"):
    """A member's frame for another member (or the room), ``sender`` stamped by the server."""

    sender: str
    type: str
    data: msgspec.Raw


class Pong(Event, frozen=True, tag="camus_pong"):
    """Ground control's answer to ``ping``: the same ``data``."""

    data: msgspec.Raw


class RoomInfo(Event, frozen=True, tag="camus_room_info"):
    room_id: str
    clients: list[ClientInfo]


class IceServers(Event, frozen=True, tag="camus_ice_servers"):
    servers: list[IceServerInfo]


class UnknownType(Event, frozen=True, tag="camus_unknown_type"):
    """A ``type`` ground control does not know (``None``: the frame had none)."""

    type: str | None


class Ping(Event, frozen=True, tag="camus_ping"):
    """Ground control asks a silent member to show it is still there."""

    time: float


class Bye(Event, frozen=True, tag="camus_bye"):
    """Ground control tells a member that went silent that it is no longer in the room."""

    time: float


CamusEvent = Relayed | Pong | RoomInfo | IceServers | UnknownType | Ping | Bye
