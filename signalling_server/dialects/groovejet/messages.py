"""groovejet's two closed vocabularies: what a client asks (actions) and what it is told (events).

The rules speak these typed messages; :mod:`.codec` alone knows their wire
shape (``{"type": ..., "data": {...}}`` with camelCase keys). Relayed session
descriptions stay raw JSON from the sender's frame to the recipient's.
"""

from __future__ import annotations

import enum
from typing import ClassVar

import msgspec

from ...protocol.actions import Action
from ...protocol.events import Event


class ErrorType(enum.StrEnum):
    """The only errors a groovejet client is ever sent; each one ends its connection."""

    MISSING_ROOM_CODE = "missingRoomCode"
    NO_ROOM_FOUND = "noRoomFound"
    HOST_DISCONNECTED = "hostDisconnected"


# Client to server ---------------------------------------------------------------------------


class CreateRoom(Action, frozen=True):
    """``createRoom``: host a new room."""

    NAME: ClassVar[str] = "createRoom"


class JoinRoom(Action, frozen=True):
    """``joinRoom``: join a room as a guest, or take its empty host seat."""

    NAME: ClassVar[str] = "joinRoom"
    #: ``None`` when the frame had no string ``roomCode`` (or no ``data`` object).
    room_code: str | None
    #: ``canHost`` as JavaScript reads it (truthy), as the original server did.
    can_host: bool = False


class GuestOfferSignal(Action, frozen=True):
    """``guestOfferSignal``: a guest's offer for its room's host."""

    NAME: ClassVar[str] = "guestOfferSignal"
    offer_signal: msgspec.Raw


class HostAnswerSignal(Action, frozen=True):
    """``hostAnswerSignal``: the host's answer for one of its guests (by ``clientId``)."""

    NAME: ClassVar[str] = "hostAnswerSignal"
    answer_signal: msgspec.Raw
    client_id: str


# Server to client ---------------------------------------------------------------------------


class Identity(Event, frozen=True, tag="groovejet.identity"):
    """Sent on connect: the client's id for this connection (its player id)."""

    client_id: str


class CreatedRoom(Event, frozen=True, tag="groovejet.created_room"):
    room_code: str


class JoinedRoom(Event, frozen=True, tag="groovejet.joined_room"):
    is_host: bool


class OfferFromGuest(Event, frozen=True, tag="groovejet.guest_offer_signal"):
    """A guest's offer as its host receives it, stamped with the guest's ``clientId``."""

    offer_signal: msgspec.Raw
    client_id: str


class AnswerFromHost(Event, frozen=True, tag="groovejet.host_answer_signal"):
    """The host's answer as the guest receives it."""

    answer_signal: msgspec.Raw


class RoomError(Event, frozen=True, tag="groovejet.error"):
    """A fatal error; the server closes the connection right after it."""

    error_type: ErrorType
    error_message: str
