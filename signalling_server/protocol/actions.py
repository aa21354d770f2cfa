"""Actions: what a client asks of the server (protocol v1, client to server).

Each action is a frozen struct whose class variable ``NAME`` is its wire name.
Payloads the server only forwards (session descriptions, ICE candidates, chat
data, ping values) are validated but kept as raw JSON, so a relay never
re-encodes them.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import Annotated, ClassVar, Final, Literal

import msgspec

from .codes import ErrorCode, KickReason
from .errors import ProtocolError

MAX_ID_LENGTH: Final = 64
MAX_NAME_LENGTH: Final = 32
MAX_REASON_LENGTH: Final = 200
MAX_PASSWORD_LENGTH: Final = 128
MAX_TOKEN_LENGTH: Final = 256

# Raw text limits, before trimming; the cleaned text is checked again.
RawName = Annotated[str, msgspec.Meta(max_length=4 * MAX_NAME_LENGTH)]
RawMessage = Annotated[str, msgspec.Meta(max_length=4 * MAX_REASON_LENGTH)]
Id = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_ID_LENGTH)]
Password = Annotated[str, msgspec.Meta(max_length=MAX_PASSWORD_LENGTH)]
Ref = Annotated[str, msgspec.Meta(max_length=MAX_ID_LENGTH)]
NULL: Final = msgspec.Raw(b"null")


class Action(msgspec.Struct, frozen=True, omit_defaults=True):
    """Base of every action's content; ``NAME`` is the action's wire name."""

    NAME: ClassVar[str]


class SeatRequest(msgspec.Struct, frozen=True):
    """A place kept in a new lobby for a guest that moves in from another server."""

    name: RawName
    peer_id: Annotated[int, msgspec.Meta(ge=2, le=2**31 - 1)]


class StartLobby(Action, frozen=True):
    NAME: ClassVar[str] = "start_lobby"
    name: RawName | None = None
    lobby_id: Annotated[str, msgspec.Meta(max_length=MAX_ID_LENGTH)] | None = None
    max_guests: Annotated[int, msgspec.Meta(ge=1, le=64)] | None = None
    password: Password | None = None
    display_name: RawName | None = None
    #: Let a guest take over when the host leaves (``hand_over``, or its grace runs out).
    migratable: bool = False
    #: The host's peer id (1 unless a lobby moves here with its successor as host).
    peer_id: Annotated[int, msgspec.Meta(ge=1, le=2**31 - 1)] | None = None
    #: Places kept for the guests of a lobby that moves here (``move_lobby``); each is
    #: claimed with ``resume`` and the token ``lobby_started.seats`` gives for it.
    seats: Annotated[list[SeatRequest], msgspec.Meta(max_length=64)] | None = None


class CloseLobby(Action, frozen=True):
    NAME: ClassVar[str] = "close_lobby"


class SetLobbyOpen(Action, frozen=True):
    NAME: ClassVar[str] = "set_lobby_open"
    open: bool


class JoinLobby(Action, frozen=True):
    NAME: ClassVar[str] = "join_lobby"
    lobby_id: Annotated[str, msgspec.Meta(max_length=MAX_ID_LENGTH)]
    name: RawName | None = None
    password: Password | None = None
    #: Only for lobbies whose policy lets members choose their peer id.
    peer_id: Annotated[int, msgspec.Meta(ge=2, le=2**31 - 1)] | None = None


class CancelJoin(Action, frozen=True):
    NAME: ClassVar[str] = "cancel_join"


class AcceptRequest(Action, frozen=True):
    NAME: ClassVar[str] = "accept_request"
    connection_id: Id


class RejectJoinRequest(Action, frozen=True):
    NAME: ClassVar[str] = "reject_join_request"
    connection_id: Id
    #: The host's words for the guest.
    message: RawMessage | None = None
    #: Older clients' name for ``message``; taken as the host's words too.
    reason: RawMessage | None = None


class SessionDescription(msgspec.Struct, frozen=True):
    """An SDP offer or answer (``RTCSessionDescriptionInit``)."""

    type: Literal["offer", "answer", "pranswer", "rollback"]
    sdp: str


class IceCandidate(msgspec.Struct, frozen=True, omit_defaults=True):
    """A trickled ICE candidate (``RTCIceCandidateInit``, the W3C field names)."""

    candidate: str
    sdpMid: str | None = None
    sdpMLineIndex: Annotated[int, msgspec.Meta(ge=0)] | None = None
    usernameFragment: str | None = None


class SetSessionDescription(Action, frozen=True):
    NAME: ClassVar[str] = "set_session_description"
    connection_id: Id
    description: msgspec.Raw  # a SessionDescription, checked and forwarded as sent


class SendIceCandidate(Action, frozen=True):
    NAME: ClassVar[str] = "send_ice_candidate"
    connection_id: Id
    candidate: msgspec.Raw  # an IceCandidate or null, checked and forwarded as sent


class SendMessage(Action, frozen=True):
    NAME: ClassVar[str] = "send_message"
    connection_id: Id
    data: msgspec.Raw  # any JSON value, forwarded as sent


class LeaveLobby(Action, frozen=True):
    NAME: ClassVar[str] = "leave_lobby"


class KickGuest(Action, frozen=True):
    NAME: ClassVar[str] = "kick_guest"
    connection_id: Id
    #: The host's words for the guest.
    message: RawMessage | None = None
    #: Keep the guest out of this lobby: its address may not join again.
    block: bool = False
    #: Older clients' name for ``message``; taken as the host's words too.
    reason: RawMessage | None = None
    #: Why, as a code the guest can act on: ``unreachable`` when the host gave up
    #: on the handshake; the guest's ``kicked.reason``.
    code: KickReason = KickReason.KICKED_BY_HOST


class Resume(Action, frozen=True):
    NAME: ClassVar[str] = "resume"
    token: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_TOKEN_LENGTH)]


class GetLobbyInfo(Action, frozen=True):
    NAME: ClassVar[str] = "get_lobby_info"


class GetIceServers(Action, frozen=True):
    NAME: ClassVar[str] = "get_ice_servers"


class Ping(Action, frozen=True):
    NAME: ClassVar[str] = "ping"
    t: msgspec.Raw = NULL


class HandOver(Action, frozen=True):
    """The host gives the lobby to a guest (``None``: the earliest-accepted one) and leaves."""

    NAME: ClassVar[str] = "hand_over"
    connection_id: Id | None = None


class MoveLobby(Action, frozen=True):
    """The host moves its lobby to another server: each guest named gets the URL and its token."""

    NAME: ClassVar[str] = "move_lobby"
    url: Annotated[str, msgspec.Meta(min_length=6, max_length=512, pattern=r"^wss?://")]
    #: connection id of a guest -> the token of its seat on the new server.
    seats: Annotated[
        dict[Id, Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_TOKEN_LENGTH)]],
        msgspec.Meta(max_length=64),
    ]


#: Snapshot sequence numbers stay exact in every JSON reader (JavaScript's too).
MAX_SNAPSHOT_SEQ: Final = 2**53 - 1


class SaveSnapshot(Action, frozen=True):
    """The host stores the game's state; ``seq`` must be above every earlier one."""

    NAME: ClassVar[str] = "save_snapshot"
    seq: Annotated[int, msgspec.Meta(ge=1, le=MAX_SNAPSHOT_SEQ)]
    data: msgspec.Raw  # any JSON value, kept as sent


class LoadSnapshot(Action, frozen=True):
    """The host reads a kept snapshot back (``None``: the latest)."""

    NAME: ClassVar[str] = "load_snapshot"
    seq: Annotated[int, msgspec.Meta(ge=1, le=MAX_SNAPSHOT_SEQ)] | None = None


RelayAction = SetSessionDescription | SendIceCandidate | SendMessage

ACTION_TYPES: Final[Mapping[str, type[Action]]] = {
    kind.NAME: kind
    for kind in (
        StartLobby,
        CloseLobby,
        SetLobbyOpen,
        JoinLobby,
        CancelJoin,
        AcceptRequest,
        RejectJoinRequest,
        SetSessionDescription,
        SendIceCandidate,
        SendMessage,
        LeaveLobby,
        KickGuest,
        Resume,
        GetLobbyInfo,
        GetIceServers,
        Ping,
        HandOver,
        SaveSnapshot,
        LoadSnapshot,
        MoveLobby,
    )
}


def clean_text(text: str, *, field: str, max_length: int) -> str:
    """Trim ``text`` and drop control and format characters; 1..max_length left.

    Raises ``invalid_message`` when nothing printable is left or too much is.
    """
    cleaned = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C").strip()
    if not cleaned:
        raise ProtocolError(ErrorCode.INVALID_MESSAGE, f"{field} must not be empty")
    if len(cleaned) > max_length:
        raise ProtocolError(
            ErrorCode.INVALID_MESSAGE,
            f"{field} must be at most {max_length} characters",
        )
    return cleaned
