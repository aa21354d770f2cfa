"""What the room pages ask of the Camus rules, and what the rules answer.

The HTTP routes turn a request into one of these questions and the answer into
a page; the rules never see HTTP.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final

#: Guest limits the create form offers (0: no limit but the server's own cap).
GUEST_LIMITS: Final = (0, 2, 3, 5, 10)


class Creation(enum.Enum):
    """What became of a create form."""

    CREATED = "created"
    #: The name, or its slug, belongs to a room already (or makes no slug).
    TAKEN = "taken"
    TOO_LONG = "too_long"
    TOO_MANY_ROOMS = "too_many_rooms"


class Entry(enum.Enum):
    """What a visit to a room page gives."""

    NOT_FOUND = enum.auto()
    FULL = enum.auto()
    #: A password room, visited without a password: the form, no member.
    PASSWORD_FORM = enum.auto()
    WRONG_PASSWORD = enum.auto()
    ADMITTED = enum.auto()


class SocketAdmission(enum.Enum):
    NO_ROOM = "no_room"
    NO_MEMBER = "no_member"
    ADMITTED = "admitted"


@dataclass(frozen=True, slots=True, kw_only=True)
class CreateRoom:
    """The create form, read (``guest_limit`` one of :data:`GUEST_LIMITS`)."""

    name: str
    password: str = ""
    public: bool = False
    guest_limit: int = 0


@dataclass(frozen=True, slots=True)
class Created:
    outcome: Creation
    slug: str


@dataclass(frozen=True, slots=True)
class Entered:
    """A visit's outcome; ``cookie`` (the signed value) when a member was made."""

    outcome: Entry
    slug: str
    room_name: str = ""
    member_id: str = ""
    cookie: str = ""


@dataclass(frozen=True, slots=True)
class Admitted:
    outcome: SocketAdmission
    member_id: str = ""
