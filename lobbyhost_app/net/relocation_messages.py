"""The two messages of a planned move to the successor's own server, as relayed JSON.

A host whose server is embedded in its app (and so dies with it) moves its
lobby before leaving: it asks the successor, over the server's ``send_message``
relay, to host the lobby on its own server (:class:`HostRequest`); the
successor opens it there, keeping a seat for every other guest, and answers
with the address and the seats' tokens (:class:`HostReady`); the host then
sends ``move_lobby``. Both messages are tagged ``{"lobbyhost": ...}`` so that
game data relayed the same way is never mistaken for them; anything that does
not decode is not one of them.
"""

from __future__ import annotations

from typing import Annotated, Final

import msgspec

from signalling_server.protocol.actions import MAX_NAME_LENGTH

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=4 * MAX_NAME_LENGTH)]
PeerId = Annotated[int, msgspec.Meta(ge=1, le=2**31 - 1)]


class MovingGuest(msgspec.Struct, frozen=True):
    """A guest that moves along, as the host knows it."""

    name: Name
    peer_id: PeerId


class HostRequest(msgspec.Struct, frozen=True, tag_field="lobbyhost", tag="host_request"):
    """Host to successor: open the lobby on your own server, with seats for these guests."""

    lobby_id: Annotated[str, msgspec.Meta(max_length=64)]
    name: Name
    max_guests: Annotated[int, msgspec.Meta(ge=1, le=64)]
    guests: Annotated[list[MovingGuest], msgspec.Meta(max_length=64)]
    #: The latest snapshot (JSON text) when it fits in a relayed message.
    snapshot: str | None = None
    snapshot_seq: int = 0


class SeatToken(msgspec.Struct, frozen=True):
    peer_id: PeerId
    token: Annotated[str, msgspec.Meta(max_length=256)]


class HostReady(msgspec.Struct, frozen=True, tag_field="lobbyhost", tag="host_ready"):
    """Successor to host: the lobby is open at ``url``; each guest's seat and its token."""

    url: Annotated[str, msgspec.Meta(max_length=512, pattern=r"^wss?://")]
    seats: Annotated[list[SeatToken], msgspec.Meta(max_length=64)]


#: A snapshot larger than this stays behind (a relayed frame is at most 64 KiB).
MAX_RELAYED_SNAPSHOT: Final = 48 * 1024

_encoder: Final = msgspec.json.Encoder()
_request_decoder: Final = msgspec.json.Decoder(HostRequest)
_ready_decoder: Final = msgspec.json.Decoder(HostReady)


def encode(message: HostRequest | HostReady) -> msgspec.Raw:
    """The message as the ``data`` of a ``send_message``."""
    return msgspec.Raw(_encoder.encode(message))


def read_host_request(data: msgspec.Raw) -> HostRequest | None:
    try:
        return _request_decoder.decode(data)
    except msgspec.DecodeError:
        return None


def read_host_ready(data: msgspec.Raw) -> HostReady | None:
    try:
        return _ready_decoder.decode(data)
    except msgspec.DecodeError:
        return None


__all__ = ["HostReady", "HostRequest", "MovingGuest", "SeatToken"]
