"""The relay lane against the full rules: CPU per relayed frame through one process's path.

Run: ``.venv/bin/python -m tests.benchmarks.relay_path [--loop uvloop] [--reps N]``

A real :class:`~signalling_server.node.SignallingNode` with two
:class:`~signalling_server.transport.websocket.WebsocketSession` objects on
socket pairs, a lobby with a host and an accepted guest. The guest's session
reads one masked ``send_ice_candidate`` frame per read (a Chrome-shaped
candidate, as the relay benchmark sends); the benchmark drains the host's socket
after each. Process CPU per relayed frame covers the transport, the codec, the
registry and the write (not the event loop's own reads). Measured in the same
run, repetitions interleaved: the registry as shipped (a host/guest relay is
answered in one step) and one with that lane switched off, so every relay is a
whole unit of work as before. Medians and the ratio lane / full rules.
"""

from __future__ import annotations

import functools
import json
import time

from websockets.frames import Frame, Opcode

from signalling_server.config import Limits, ServerConfig, Timeouts
from signalling_server.effects import Send
from signalling_server.lobby import Connection
from signalling_server.node import SignallingNode
from signalling_server.protocol import actions as a
from signalling_server.protocol.events import LobbyStarted
from signalling_server.protocol.native import decode_event, encode_action
from signalling_server.registry import LobbyRegistry

from .socket_sessions import interleaved, loop_and_reps, socket_sessions

FRAMES_PER_REPETITION = 40_000
CANDIDATE = {
    "candidate": "candidate:842163049 1 udp 1677729535 198.51.100.7 61234 typ srflx raddr "
    "192.168.1.7 rport 61234 generation 0 ufrag abcd network-id 1 network-cost 10 x-seq 12345",
    "sdpMid": "0",
    "sdpMLineIndex": 0,
    "usernameFragment": "abcd",
}


class FullRulesRegistry(LobbyRegistry):
    """The baseline: every relay applied as a whole unit of work (the lane switched off)."""

    def _relay_now(self, conn: Connection, action: a.RelayAction, ref: str | None) -> Send | None:
        return None


def _masked(text: str) -> bytes:
    return Frame(Opcode.TEXT, text.encode()).serialize(mask=True, extensions=[])


async def us_per_frame(registry_type: type[LobbyRegistry]) -> float:
    """Process CPU microseconds per relayed candidate, one frame per read."""
    config = ServerConfig(
        limits=Limits(actions_per_second=1e9, action_burst=10**9),
        timeouts=Timeouts(ping_interval=3600.0),
    )
    node = SignallingNode(config)
    node.registry = registry_type(limits=config.limits, timeouts=config.timeouts)
    codec = node.registry._native_codec
    async with socket_sessions(node, config, codec, 2) as (host, guest):
        host.session.data_received(_masked(encode_action(a.StartLobby(name="h")).decode()))
        started = host.drain()
        lobby_started = decode_event(started[started.index(b"{") :]).event
        assert isinstance(lobby_started, LobbyStarted)
        join = a.JoinLobby(lobby_id=lobby_started.lobby_id, name="g")
        guest.session.data_received(_masked(encode_action(join).decode()))
        assert guest.session.connection_id is not None
        accept = a.AcceptRequest(connection_id=guest.session.connection_id)
        host.session.data_received(_masked(encode_action(accept).decode()))
        host.drain()
        guest.drain()
        content = {"connection_id": host.session.connection_id, "candidate": CANDIDATE}
        frame = _masked(json.dumps({"action": "send_ice_candidate", "content": content}))
        relayed_before = node.counters.relayed
        cpu = time.process_time()
        for _ in range(FRAMES_PER_REPETITION):
            guest.session.data_received(frame)
            host.drain()
        spent = time.process_time() - cpu
        if node.counters.relayed - relayed_before != FRAMES_PER_REPETITION:
            raise SystemExit("not every candidate was relayed")
    return 1e6 * spent / FRAMES_PER_REPETITION


def main() -> None:
    factory, reps = loop_and_reps(
        "python -m tests.benchmarks.relay_path", "uvloop", FRAMES_PER_REPETITION
    )
    full, lane, ratio = interleaved(
        reps,
        factory,
        functools.partial(us_per_frame, FullRulesRegistry),
        functools.partial(us_per_frame, LobbyRegistry),
    )
    print("| path | CPU us per relayed frame |")
    print("|---|---:|")
    print(f"| every relay a whole unit of work (lane off) | {full:.2f} |")
    print(f"| host/guest relays in one step (as shipped) | {lane:.2f} |")
    print(f"lane / full rules, median of paired repetitions: {ratio:.2f}x")


if __name__ == "__main__":
    main()
