"""The protocol facts, strategies and bookkeeping the registry property tests share.

Error codes and event names come from protocol.md, not from the code under test.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from signalling_server.config import Limits, Timeouts
from signalling_server.ids import ConnectionId, LobbyId
from signalling_server.lobby import Role


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


ERROR_CODES = _words(
    "invalid_json invalid_message unknown_action message_too_large rate_limited already_in_lobby"
    " not_in_lobby not_host lobby_not_found lobby_exists lobby_full lobby_locked wrong_password"
    " host_unavailable unknown_connection not_accepted invalid_token"
)
EVENTS = _words(
    "lobby_started lobby_closed lobby_info request_to_join join_requested request_cancelled"
    " join_cancelled request_accepted guest_accepted request_rejected request_removed"
    " received_session_description received_ice_candidate received_message guest_left"
    " left_lobby kicked resumed guest_resumed host_disconnected host_resumed ice_servers pong"
    " error"
)
WRONG_STATE = {"already_in_lobby", "not_in_lobby", "not_host", "not_accepted"}
#: The event that answers each action directly (and carries its ``ref``).
REPLY: dict[str, str | None] = {
    "start_lobby": "lobby_started",
    "close_lobby": "lobby_closed",
    "set_lobby_open": "lobby_info",
    "join_lobby": "join_requested",
    "cancel_join": "join_cancelled",
    "accept_request": "guest_accepted",
    "reject_join_request": "request_removed",
    "set_session_description": None,
    "send_ice_candidate": None,
    "send_message": None,
    "leave_lobby": "left_lobby",
    "kick_guest": "guest_left",
    "resume": "resumed",
    "get_lobby_info": "lobby_info",
    "get_ice_servers": "ice_servers",
    "ping": "pong",
}
RELAYS = {
    "set_session_description": ("received_session_description", "description"),
    "send_ice_candidate": ("received_ice_candidate", "candidate"),
    "send_message": ("received_message", "data"),
}
ACTIONS = list(REPLY)
HOST_ONLY = {"close_lobby", "set_lobby_open", "accept_request", "reject_join_request", "kick_guest"}
IDLE_ONLY = {"start_lobby", "join_lobby", "resume"}
#: Content fields per action: name -> (kind, required).
FIELDS: dict[str, dict[str, tuple[str, bool]]] = {
    "start_lobby": {
        "name": ("name", False),
        "lobby_id": ("code", False),
        "max_guests": ("max_guests", False),
        "password": ("password", False),
        "display_name": ("name", False),
    },
    "set_lobby_open": {"open": ("bool", True)},
    "join_lobby": {
        "lobby_id": ("code", True),
        "name": ("name", False),
        "password": ("password", False),
    },
    "accept_request": {"connection_id": ("target", True)},
    "reject_join_request": {"connection_id": ("target", True), "reason": ("reason", False)},
    "set_session_description": {"connection_id": ("target", True), "description": ("sdp", True)},
    "send_ice_candidate": {"connection_id": ("target", True), "candidate": ("ice", True)},
    "send_message": {"connection_id": ("target", True), "data": ("json", True)},
    "kick_guest": {"connection_id": ("target", True), "reason": ("reason", False)},
    "resume": {"token": ("token", True)},
    "ping": {"t": ("json", False)},
}
NOT_STRINGS: list[Any] = [5, 1.5, True, [], {}, ["x"]]
#: Values of the wrong type or range for each kind of field (null is added for required ones).
WRONG: dict[str, list[Any]] = {
    "name": NOT_STRINGS,
    "code": NOT_STRINGS,
    "password": NOT_STRINGS,
    "reason": NOT_STRINGS,
    "target": NOT_STRINGS,
    "token": NOT_STRINGS,
    "bool": [0, 1, "true", [], {}],
    "max_guests": ["8", 8.5, True, [], 0, 65, -1],
    "sdp": ["offer", 5, [], {}, {"type": "bogus", "sdp": ""}, {"type": "offer"}, {"sdp": "v=0"}],
    "ice": ["c", 5, [], {}, {"candidate": 5}, {"candidate": "c", "sdpMLineIndex": -1}],
    "json": [],
}
#: Kinds whose field may be null even when required (raw JSON forwarded as sent).
NULL_OK = {"json", "ice"}
#: Longest string the envelope takes per kind; one more character is an invalid_message.
MAX_LENGTH = {"name": 128, "code": 64, "password": 128, "reason": 800, "target": 64, "token": 256}
MUTATIONS = _words(
    "binary not_json non_object truncated unknown_action bad_envelope bad_content bad_field"
    " missing_field too_long too_large extra_keys"
)
FRAME_LIMIT = 4096
ADDRESSES = ("127.0.0.11", "127.0.0.12", "127.0.0.13")
MAX_LIVE = 6

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)
NAMES = st.sampled_from(
    ["Ann", "  Bob ", "\x00\x07", "   ", "x" * 33, "\u00e9" * 32, "\u200bZo"]
) | st.text(max_size=40)
REASONS = st.sampled_from(["too slow", "  ", "\x1b"]) | st.text(max_size=220)
PASSWORDS = st.sampled_from(["", "pw", "hunter2"])
DESCRIPTIONS = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["offer", "answer", "pranswer", "rollback"]),
        "sdp": st.text(max_size=60),
    }
)
CANDIDATES = st.none() | st.fixed_dictionaries(
    {"candidate": st.text(max_size=40)},
    optional={
        "sdpMid": st.none() | st.text(max_size=4),
        "sdpMLineIndex": st.none() | st.integers(0, 2**31),
        "usernameFragment": st.text(max_size=8),
    },
)
REFS = st.none() | st.text(max_size=64)
UNKNOWN_ACTIONS = st.sampled_from(
    ["", "Ping", "start-lobby", " ping", "__init__", "ping\x00"]
) | st.text(max_size=40).filter(lambda name: name not in REPLY)
NOT_JSON = st.sampled_from(
    [
        "",
        "{",
        "nul",
        "{'action': 'ping'}",
        '{"action":"ping",}',
        '{"action":"ping","content":{"t":NaN}}',
    ]
) | st.text(max_size=30).filter(lambda text: not text.lstrip(" \t\r\n").startswith("{"))
LIMITS = st.builds(
    Limits,
    max_frame_bytes=st.just(FRAME_LIMIT),
    hard_frame_bytes=st.just(4 * FRAME_LIMIT),
    lobbies_per_address=st.sampled_from([1, 2, 8]),
    joins_per_address_per_minute=st.sampled_from([10, 1000]),
    pending_per_lobby=st.sampled_from([1, 2, 32]),
    default_max_guests=st.sampled_from([1, 2, 8]),
    password_hash_iterations=st.just(1),
)
TIMEOUTS = st.builds(
    Timeouts,
    guest_grace=st.sampled_from([5.0, 30.0]),
    host_grace=st.sampled_from([5.0, 30.0]),
    pending_request_timeout=st.sampled_from([10.0, 120.0]),
)


@dataclass(frozen=True)
class Sent:
    """One delivered event, decoded."""

    target: ConnectionId
    event: str
    content: dict[str, Any]
    ref: str | None


@dataclass(frozen=True)
class LobbyView:
    """Who is where in one lobby, at one moment."""

    host: ConnectionId | None
    host_last: ConnectionId
    address: str
    guests: tuple[ConnectionId, ...]
    away: tuple[ConnectionId, ...]
    pending: tuple[ConnectionId, ...]
    open: bool
    max_guests: int

    @property
    def seats(self) -> int:
        """Accepted guests, those in their grace period included."""
        return len(self.guests) + len(self.away)

    @property
    def people(self) -> set[ConnectionId]:
        """Live connections in the lobby: host, accepted guests and pending joiners."""
        host = {self.host} if self.host is not None else set()
        return host | set(self.guests) | set(self.pending)


@dataclass(frozen=True)
class View:
    """Every live connection's role and every lobby's membership, at one moment."""

    roles: dict[ConnectionId, tuple[Role, LobbyId | None]]
    lobbies: dict[LobbyId, LobbyView]

    def lobby_of(self, cid: ConnectionId) -> LobbyView | None:
        lobby_id = self.roles[cid][1]
        return self.lobbies.get(lobby_id) if lobby_id is not None else None


def variant(code: str, how: str) -> str:
    """A way a person might type ``code`` that still normalises to it."""
    if how == "lower":
        return code.lower()
    if how == "dashed":
        return f"{code[:3]}-{code[3:]}"
    if how == "spaced":
        return " ".join(code)
    if how == "lookalike":
        return code.replace("0", "O").replace("1", "l")
    return code


def mutate_token(token: str, other: str, how: str) -> str:
    """A token that is close to a real one but must not resume anything."""
    token_id, _, secret = token.partition(".")
    if how == "flip":
        return token[:-1] + ("A" if token[-1] != "A" else "B")
    if how == "cut":
        return token[:-1]
    if how == "swap":
        return f"{token_id}.{other.partition('.')[2]}"
    if how == "no_secret":
        return f"{token_id}."
    return secret


def role_allows(action: str, role: Role) -> bool:
    """Whether protocol.md's "allowed for" column lets a connection in ``role`` do ``action``."""
    if action in IDLE_ONLY:
        return role is Role.IDLE
    if action in HOST_ONLY:
        return role is Role.HOST
    if action == "cancel_join":
        return role is Role.PENDING
    if action == "leave_lobby":
        return role is Role.GUEST
    if action in ("get_lobby_info", "get_ice_servers"):  # TURN credentials: members only
        return role in (Role.HOST, Role.GUEST)
    return True  # relays are judged by their target; ping is for anyone


def printable(text: str) -> str:
    """Text as protocol.md says the server keeps it: control characters removed, trimmed."""
    return "".join(ch for ch in text if unicodedata.category(ch)[0] != "C").strip()


def valid_text(value: str | None, max_length: int) -> bool:
    """Whether an optional name or reason is acceptable: absent, or 1..max_length printable."""
    return value is None or 1 <= len(printable(value)) <= max_length


def wrong_values(kind: str, required: bool) -> list[Any]:
    return [*WRONG[kind], *([None] if required and kind not in NULL_OK else [])]


def count(sent: list[Sent], target: ConnectionId, event: str) -> int:
    return sum(1 for s in sent if s.target == target and s.event == event)
