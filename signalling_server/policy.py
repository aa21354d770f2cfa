"""Lobby policies: the rules that differ from one kind of lobby to another.

The registry applies one set of rules; a :class:`LobbyPolicy` decides the
parts that vary: who approves a join, which members may signal each other,
who makes the WebRTC offer, where peer ids come from, and whether a dropped
member may come back. Native lobbies (protocol v1) follow :data:`NATIVE`; the
older systems' dialects register policies of their own.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final


class Approval(enum.StrEnum):
    """Who lets a joiner in."""

    #: The host accepts or rejects each request.
    HOST = "host"
    #: Every request that passes the checks (code, lock, password, seats) is accepted at once.
    AUTOMATIC = "automatic"


class Topology(enum.StrEnum):
    """Who may signal whom."""

    #: The host and each guest; guests never signal each other.
    STAR = "star"
    #: Every member may signal every other member.
    MESH = "mesh"


class Offerer(enum.StrEnum):
    """Who makes the WebRTC offer; told to clients in ``request_accepted`` and ``lobby_info``."""

    HOST = "host"
    GUEST = "guest"


class PeerIds(enum.StrEnum):
    """Where a guest's peer id comes from."""

    #: 2, 3, ... in acceptance order (Godot's multiplayer ids expect this).
    SEQUENTIAL = "sequential"
    #: The joiner names its own (``join_lobby{peer_id}``), unique in the lobby.
    CHOSEN = "chosen"


@dataclass(frozen=True, slots=True, kw_only=True)
class LobbyPolicy:
    """The variable rules of one kind of lobby."""

    name: str
    approval: Approval = Approval.HOST
    topology: Topology = Topology.STAR
    offerer: Offerer = Offerer.HOST
    peer_ids: PeerIds = PeerIds.SEQUENTIAL
    #: Whether a dropped member keeps its place for its grace period and may ``resume``.
    resume: bool = True
    #: Whether guests hear ``host_disconnected`` / ``host_resumed`` while the host is away.
    host_away_notices: bool = True


#: Protocol v1's lobbies: the host approves, star topology, the host offers.
NATIVE: Final = LobbyPolicy(name="native")

_policies: dict[str, LobbyPolicy] = {NATIVE.name: NATIVE}
#: Every policy a lobby record may name, by name.
POLICIES: Final[Mapping[str, LobbyPolicy]] = MappingProxyType(_policies)


def register_policy(policy: LobbyPolicy) -> LobbyPolicy:
    """Make ``policy`` known by its name (dialects do this once, at import)."""
    existing = _policies.get(policy.name)
    if existing is not None and existing != policy:
        raise ValueError(f"another policy is already called {policy.name!r}")
    _policies[policy.name] = policy
    return policy
