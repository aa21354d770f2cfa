"""The servers measured side by side in one run, and the baselines they are compared with."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Literal

from .node_peers import NodeRuntime

#: How a flow talks to a server: LobbyHost's protocol v1 (ours, and both bare
#: relays speak the same frames), or PeerJS's (ids in the URL, CANDIDATE/dst/src).
Dialect = Literal["lobbyhost", "peerjs"]

OURS_GENERIC = "ours-generic"  # ours as before: asyncio's loop, websockets' parser for all
OURS = "ours"  # LobbyHost's server on asyncio's loop (--loop asyncio)
OURS_UVLOOP = "ours-uvloop"  # the same server on uvloop (--loop uvloop)
BARE = "bare"  # the bare Python websockets relay (bare_relay.py)
NODE_WS = "node-ws"  # the bare Node ws relay (node/bare_relay.js)
PEERJS = "peerjs"  # the PeerJS server from npm (node/peerjs_server.js)


@dataclass(frozen=True)
class Contender:
    """One server of the run."""

    key: str
    label: str
    dialect: Dialect


LABELS = {
    OURS_GENERIC: "LobbyHost before (asyncio, no fast frames)",
    OURS: "LobbyHost (asyncio loop)",
    OURS_UVLOOP: "LobbyHost (uvloop)",
    BARE: "bare Python websockets relay",
    NODE_WS: "bare Node ws relay",
    PEERJS: "PeerJS server (npm peer)",
}


def uvloop_installed() -> bool:
    """Whether the uvloop extra is installed (then ours runs twice: both loops)."""
    return importlib.util.find_spec("uvloop") is not None


def contenders(node: NodeRuntime | None) -> list[Contender]:
    """Every server this machine can run: ours (on both loops), the bare relays, PeerJS."""
    keys = [OURS_GENERIC, OURS]
    if uvloop_installed():
        keys.append(OURS_UVLOOP)
    keys.append(BARE)
    if node is not None:
        keys += [NODE_WS, PEERJS]
    return [Contender(key, LABELS[key], "peerjs" if key == PEERJS else "lobbyhost") for key in keys]


def is_ours(key: str) -> bool:
    """LobbyHost's server (either loop), which has limits the others lack."""
    return key in (OURS_GENERIC, OURS, OURS_UVLOOP)


def shipped(keys: list[str]) -> str:
    """Our server as installed: on uvloop when the extra is there."""
    return OURS_UVLOOP if OURS_UVLOOP in keys else OURS
