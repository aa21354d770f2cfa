"""The small values the sessions report and the app shows: states, stats and session events.

Imports neither aiortc, nor websockets, nor Qt: models, views and controllers
take their vocabulary from here without loading the network stack
(``tests/lobbyhost_app/test_imports.py`` pins that). ``net/`` produces these
values; everything above it only reads them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from signalling_server.protocol import CloseReason, KickReason, LobbyInfo, RejectReason

# Peer links ------------------------------------------------------------------------------


class LinkState(enum.Enum):
    """Where a peer link stands, as a user would put it."""

    CONNECTING = "connecting"
    CONNECTED = "connected"
    FAILED = "failed"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class LinkStats:
    """A snapshot of one link for lists and logs."""

    state: LinkState
    rtt_ms: float | None
    route: str | None
    bytes_in: int
    bytes_out: int
    connected_since: float | None  # wall-clock time


# The host's side -------------------------------------------------------------------------


class HostState(enum.Enum):
    """Where hosting stands: no lobby, opening one, open, closing it."""

    IDLE = "idle"
    STARTING = "starting"
    OPEN = "open"
    CLOSING = "closing"


@dataclass(frozen=True, slots=True)
class LobbyOpened:
    lobby_id: str
    connection_id: str


@dataclass(frozen=True, slots=True)
class JoinRequested:
    connection_id: str
    name: str
    requested_at: float  # wall-clock time


@dataclass(frozen=True, slots=True)
class RequestGone:
    """A request left the list.

    ``reason`` is ``accepted``, ``cancelled`` (the guest stopped waiting), or
    the server's :class:`RejectReason` (``rejected_by_host``, ``timeout``, ``host_left``).
    """

    connection_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class PeerUpdated:
    """A guest's link changed (state, RTT, route or traffic)."""

    connection_id: str
    name: str
    peer_id: int
    stats: LinkStats


@dataclass(frozen=True, slots=True)
class PeerGone:
    connection_id: str
    name: str
    peer_id: int
    reason: str  # left, kicked, disconnected, lost, failed, closed


@dataclass(frozen=True, slots=True)
class PeerConnectionLost:
    """A connected guest's signalling dropped: it keeps its place for ``grace_s`` seconds.

    It is back with :class:`PeerResumed`, or gone with :class:`PeerGone` (``lost``)
    when the grace runs out. Its link figures are stale meanwhile.
    """

    connection_id: str
    name: str
    peer_id: int
    grace_s: float


@dataclass(frozen=True, slots=True)
class PeerResumed:
    """A guest's signalling came back on a new connection; its peer link never dropped."""

    old_connection_id: str
    connection_id: str
    peer_id: int


@dataclass(frozen=True, slots=True)
class ChatReceived:
    connection_id: str
    name: str
    text: str


@dataclass(frozen=True, slots=True)
class LobbyInfoChanged:
    info: LobbyInfo


@dataclass(frozen=True, slots=True)
class LobbyEnded:
    reason: CloseReason


@dataclass(frozen=True, slots=True)
class SnapshotStored:
    """The server keeps a snapshot of the game: its sequence number, Unix time and size."""

    seq: int
    saved_at: float
    size: int


@dataclass(frozen=True, slots=True)
class SnapshotLoaded:
    """A snapshot handed to this host (with its promotion, or read back): ``data`` is JSON text."""

    seq: int
    saved_at: float
    size: int
    data: str


@dataclass(frozen=True, slots=True)
class LobbyHandedOver:
    """This host handed the lobby over; ``name`` hosts it now."""

    name: str
    peer_id: int


@dataclass(frozen=True, slots=True)
class SignallingStatus:
    """``lost``, ``restored`` or ``failed``: the link to the signalling server."""

    status: str


HostEvent = (
    LobbyOpened
    | JoinRequested
    | RequestGone
    | PeerUpdated
    | PeerGone
    | PeerConnectionLost
    | PeerResumed
    | ChatReceived
    | LobbyInfoChanged
    | LobbyEnded
    | SignallingStatus
    | SnapshotStored
    | SnapshotLoaded
    | LobbyHandedOver
)


# The guest's side ------------------------------------------------------------------------


class GuestPhase(enum.Enum):
    """Where a guest stands, in the words the UI shows."""

    IDLE = "idle"
    WAITING = "waiting"  # asked to join; the host decides
    CONNECTING = "connecting"  # accepted; WebRTC handshake under way
    CONNECTED = "connected"
    REJECTED = "rejected"
    HOST_AWAY = "host_away"  # the host dropped and may come back
    HOST_LEFT = "host_left"
    LOBBY_CLOSED = "lobby_closed"
    KICKED = "kicked"
    FAILED = "failed"
    LEFT = "left"
    #: The lobby's host left and this guest hosts it now (its app takes the host role).
    PROMOTED = "promoted"


ENDED = frozenset(
    {
        GuestPhase.REJECTED,
        GuestPhase.HOST_LEFT,
        GuestPhase.LOBBY_CLOSED,
        GuestPhase.KICKED,
        GuestPhase.FAILED,
        GuestPhase.LEFT,
        GuestPhase.PROMOTED,
    }
)

#: Why a guest's session ended, as the server put it (never text someone typed).
EndReason = RejectReason | CloseReason | KickReason

#: Why a WebRTC handshake usually fails, and what helps: told to a guest the host
#: could not reach (the server's ``kicked{reason:"unreachable"}``) or whose own
#: handshake ran out of time. The browser page (resources/web/app.js) says the same.
UNREACHABLE_HINT = (
    "no network route between you and the host worked; a router or firewall "
    "(NAT) on either side is probably blocking it. The host can add a TURN server "
    "in Settings (or host on a public server); or try from another network"
)


@dataclass(frozen=True, slots=True)
class GuestStatus:
    """Where a guest stands.

    ``detail`` is text to show as it is: the host's own words (a rejection or
    kick message), the lobby's name, an error sentence, or the seconds a host
    that dropped has to come back. ``reason`` is the server's code for how the
    session ended, when it gave one; the phase is decided by it, never by
    ``detail``.
    """

    phase: GuestPhase
    detail: str = ""
    reason: EndReason | None = None


@dataclass(frozen=True, slots=True)
class GuestChat:
    text: str


@dataclass(frozen=True, slots=True)
class GuestRtt:
    rtt_ms: float


# The lobby as its members see it ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Member:
    """Someone in the lobby, as the host lists them on the ``lobby`` channel."""

    name: str
    peer_id: int
    host: bool = False


@dataclass(frozen=True, slots=True)
class MembersChanged:
    """The host's list of who is in the lobby (itself first, then connected guests)."""

    members: tuple[Member, ...]


@dataclass(frozen=True, slots=True)
class MemberChat:
    """A chat line another guest said, relayed by the host with the sender's name."""

    name: str
    peer_id: int
    text: str


@dataclass(frozen=True, slots=True)
class HostChanged:
    """The lobby has a new host (``host_migrated``); the guest connects to it, same peer id."""

    name: str
    peer_id: int


GuestEvent = GuestStatus | GuestChat | GuestRtt | MembersChanged | MemberChat | HostChanged
