"""Chrome-shaped ICE candidate frames, numbered and stamped with their send time."""

from __future__ import annotations

import json
import random
import time

from .contenders import Dialect

_CANDIDATES = (
    "candidate:{f} 1 udp 2122260223 192.168.{a}.{b} {p} typ host generation 0 ufrag {u}"
    " network-id 1 network-cost 10",
    "candidate:{f} 1 udp 1686052607 198.51.100.{b} {q} typ srflx raddr 192.168.{a}.{b} rport {p}"
    " generation 0 ufrag {u} network-id 1 network-cost 10",
    "candidate:{f} 1 udp 41885439 203.0.113.{a} {q} typ relay raddr 198.51.100.{b} rport {q}"
    " generation 0 ufrag {u} network-id 1 network-cost 10",
    "candidate:{f} 1 tcp 1518280447 192.168.{a}.{b} 9 typ host tcptype active generation 0"
    " ufrag {u} network-id 1 network-cost 10",
)
_MARK = "@@SEQ@@"
_UFRAG_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/"


class Stream:
    """One direction of one host/guest pair: a numbered series of candidates.

    The candidate line ends with ``x-seq N x-ts T``; ``Flow`` reads both back.
    The frame is ``send_ice_candidate`` (LobbyHost's protocol, which both bare
    relays speak too) or PeerJS's ``CANDIDATE`` as its client library sends it.
    """

    __slots__ = ("prefix", "seq", "suffix")

    def __init__(
        self, target: str, kind: int, rng: random.Random, dialect: Dialect = "lobbyhost"
    ) -> None:
        ufrag = "".join(rng.choices(_UFRAG_CHARS, k=4))
        line = _CANDIDATES[kind % len(_CANDIDATES)].format(
            f=rng.randrange(1 << 32),
            a=rng.randrange(256),
            b=rng.randrange(1, 255),
            p=rng.randrange(32768, 61000),
            q=rng.randrange(32768, 61000),
            u=ufrag,
        )
        candidate = {
            "candidate": f"{line} x-seq {_MARK}",
            "sdpMid": "0",
            "sdpMLineIndex": 0,
            "usernameFragment": ufrag,
        }
        if dialect == "peerjs":
            connection = "dc_" + "".join(rng.choices(_UFRAG_CHARS[:36], k=11))
            payload = {"candidate": candidate, "type": "data", "connectionId": connection}
            message = {"type": "CANDIDATE", "payload": payload, "dst": target}
        else:
            content = {"connection_id": target, "candidate": candidate}
            message = {"action": "send_ice_candidate", "content": content}
        frame = json.dumps(message, separators=(",", ":"))
        self.prefix, self.suffix = frame.split(_MARK)
        self.seq = 0

    def frame(self) -> str:
        """The next candidate frame, numbered and stamped with the send time."""
        seq = self.seq
        self.seq = seq + 1
        return f"{self.prefix}{seq} x-ts {time.monotonic_ns()}{self.suffix}"
