"""Bellhop's closed vocabulary: what its clients ask (actions) and are told (events).

Actions are the ``content`` of ``{"action": <NAME>, "content": {...}}`` frames;
events the ``content`` of ``{"event": <tag>, "content": {...}}`` frames. Field
names and types are the Godot demo client's (bellhop-multiplayer-demo); unknown
content keys are ignored. Bellhop's lobby ids travel without the ``bellhop:``
namespace the server keeps them under.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, ClassVar, Final

import msgspec

from ...protocol.actions import Action
from ...protocol.events import Event

#: Whatever a Godot ``int`` holds (a 64-bit signed integer); the host's choice is kept as is.
PeerId = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]

# Actions (client to server) ------------------------------------------------------------


class StartLobby(Action, frozen=True):
    """Host ``lobby_id`` (a fresh uuid4 when empty or absent), leaving any earlier lobby."""

    NAME: ClassVar[str] = "start_lobby"
    lobby_id: str | None = None


class CloseLobby(Action, frozen=True):
    """Host: close the lobby; guest: leave it; pending: cancel; all silently."""

    NAME: ClassVar[str] = "close_lobby"


class JoinLobby(Action, frozen=True):
    """Ask the host of ``lobby_id`` to let the caller in."""

    NAME: ClassVar[str] = "join_lobby"
    lobby_id: str


class AcceptJoinRequest(Action, frozen=True):
    """Host: let a joiner in under the peer id the host chose for it."""

    NAME: ClassVar[str] = "accept_join_request"
    player_connection_id: str
    player_peer_id: PeerId


class RejectJoinRequest(Action, frozen=True):
    """Host: turn a joiner down with the host's own words."""

    NAME: ClassVar[str] = "reject_join_request"
    player_connection_id: str
    reason: str


class SendSessionDescription(Action, frozen=True):
    """An SDP offer or answer for a peer (flattened: ``session_type`` and ``sdp``)."""

    NAME: ClassVar[str] = "send_session_description"
    connection_id: str
    session_type: str
    sdp: str


class SendIceCandidate(Action, frozen=True):
    """A trickled candidate for a peer, as Godot hands it out (sdpMid, m-line index, line)."""

    NAME: ClassVar[str] = "send_ice_candidate"
    connection_id: str
    media: str
    index: int
    name: str


BellhopAction = (
    StartLobby
    | CloseLobby
    | JoinLobby
    | AcceptJoinRequest
    | RejectJoinRequest
    | SendSessionDescription
    | SendIceCandidate
)

ACTION_TYPES: Final[Mapping[str, type[Action]]] = {
    kind.NAME: kind for kind in BellhopAction.__args__
}

# Events (server to client) -------------------------------------------------------------


class LobbyStarted(Event, frozen=True, tag="lobby_started"):
    lobby_id: str


class LobbyCreationFailed(Event, frozen=True, tag="lobby_creation_failed"):
    reason: str


class ReceivedJoinRequest(Event, frozen=True, tag="received_join_request"):
    connection_id: str


class JoinRequestAccepted(Event, frozen=True, tag="join_request_accepted"):
    host_connection_id: str
    #: The peer id the host chose, as it sent it.
    peer_id: int


class JoinRequestRejected(Event, frozen=True, tag="join_request_rejected"):
    reason: str


class ReceivedSessionDescription(Event, frozen=True, tag="received_session_description"):
    #: The sender, stamped by the server.
    connection_id: str
    session_type: str
    sdp: str


class ReceivedIceCandidate(Event, frozen=True, tag="received_ice_candidate"):
    #: The sender, stamped by the server.
    connection_id: str
    media: str
    index: int
    name: str


BellhopEvent = (
    LobbyStarted
    | LobbyCreationFailed
    | ReceivedJoinRequest
    | JoinRequestAccepted
    | JoinRequestRejected
    | ReceivedSessionDescription
    | ReceivedIceCandidate
)
