"""A Camus room as the state backend keeps it: one byte record per room.

A room has no host: it is a set of members, each made by a visit to the room
page and bound to a signed cookie. A member outlives its websocket; the record
holds the socket it has now (if any), so relays and timers reach it from any
unit of work.
"""

from __future__ import annotations

from typing import Final

import msgspec

from ...lobby import PasswordHash

#: Record kind of the rooms; keys are ``camus:<slug>``.
ROOM_KIND: Final = "camus-room"
#: Record kind of the key that signs membership cookies (one record, ``cookie``).
SIGNING_KIND: Final = "camus-signing"
SIGNING_RECORD: Final = "cookie"
#: Every member starts with the name the Camus client shows for a stranger.
DEFAULT_USERNAME: Final = "Major Tom"


class Member(msgspec.Struct):
    """One member of a room."""

    member_id: str
    username: str
    #: Monotonic time of the member's last frame (or of its visit to the page).
    seen: float
    #: Its websocket now, or ``None`` between sockets.
    connection_id: str | None = None


class Room(msgspec.Struct):
    """One room: its settings and members (in the order they came in)."""

    slug: str
    name: str
    #: This life of the room: timers planned for an earlier room with the same slug do nothing.
    life: str
    guest_limit: int
    public: bool
    password: PasswordHash | None
    #: Monotonic time of the last frame from any member (or of the room's creation).
    active: float
    members: dict[str, Member] = msgspec.field(default_factory=dict)


def room_key(slug: str) -> str:
    """The record key of a room (the dialect's namespace, then the slug)."""
    return f"camus:{slug}"


_encoder: Final = msgspec.msgpack.Encoder()
_decoder: Final = msgspec.msgpack.Decoder(Room)


def encode_room(room: Room) -> bytes:
    return _encoder.encode(room)


def decode_room(data: bytes) -> Room:
    return _decoder.decode(data)
