"""Why msgspec: one relayed ICE candidate decoded, validated and re-encoded, several ways.

``with_msgspec`` is the server's own path (the native codec decodes the action,
the registry makes a typed event, the codec encodes it with the payload spliced
in raw); ``with_msgspec_hand_spliced`` is the same decode with the frame built
by hand, the way the server did before events were typed, to show what typed
events cost.

Run: ``.venv/bin/pip install -e '.[bench]' && .venv/bin/python -m tests.benchmarks.validation``
"""

from __future__ import annotations

import json
import timeit
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, Field

from signalling_server.protocol import NativeCodec, ReceivedIceCandidate, SendIceCandidate

SENDER = "abcdefghijklmnop"
FRAME = json.dumps(
    {
        "action": "send_ice_candidate",
        "content": {
            "connection_id": SENDER,
            "candidate": {
                "candidate": "candidate:842163049 1 udp 1677729535 127.0.0.1 54321 typ srflx "
                "raddr 0.0.0.0 rport 0 generation 0 ufrag abcd network-cost 999",
                "sdpMid": "0",
                "sdpMLineIndex": 0,
            },
        },
    }
)


class _Candidate(BaseModel):
    candidate: str
    sdpMid: str | None = None
    sdpMLineIndex: int | None = Field(default=None, ge=0)


class _Content(BaseModel):
    connection_id: str = Field(min_length=1, max_length=64)
    candidate: _Candidate | None


class _Envelope(BaseModel):
    action: str
    content: _Content
    ref: str | None = Field(default=None, max_length=64)


class _Relayed(BaseModel):
    event: Literal["received_ice_candidate"] = "received_ice_candidate"
    content: dict[str, Any]


CODEC = NativeCodec()


def with_msgspec() -> bytes:
    """LobbyHost's path: typed decode, a typed event, payload validated and spliced in raw."""
    action = CODEC.decode(FRAME).action
    assert isinstance(action, SendIceCandidate)
    return CODEC.encode(ReceivedIceCandidate(SENDER, action.candidate))


def with_msgspec_hand_spliced() -> bytes:
    """The same decode; the outgoing frame joined by hand from constant pieces."""
    action = CODEC.decode(FRAME).action
    assert isinstance(action, SendIceCandidate)
    return b"".join(
        (
            b'{"event":"received_ice_candidate","content":{"connection_id":"',
            SENDER.encode(),
            b'","candidate":',
            bytes(action.candidate),
            b"}}",
        )
    )


def with_pydantic() -> str:
    """The same validation with pydantic v2 models, re-encoded by pydantic."""
    envelope = _Envelope.model_validate_json(FRAME)
    candidate = envelope.content.candidate
    relayed = _Relayed(
        content={"connection_id": SENDER, "candidate": candidate and candidate.model_dump()}
    )
    return relayed.model_dump_json()


def with_stdlib_json() -> str:
    """No validation at all: what the bare relay of the relay benchmark does."""
    message = json.loads(FRAME)
    return json.dumps(
        {
            "event": "received_ice_candidate",
            "content": {"connection_id": SENDER, "candidate": message["content"]["candidate"]},
        }
    )


def microseconds(function: Callable[[], object], number: int = 20_000) -> float:
    return min(timeit.repeat(function, number=number, repeat=5)) / number * 1e6


def main() -> None:
    paths = (with_msgspec, with_msgspec_hand_spliced, with_pydantic, with_stdlib_json)
    costs = {f.__name__: microseconds(f) for f in paths}
    print("| path | µs per frame | vs stdlib json |")
    print("|---|---|---|")
    for name, cost in costs.items():
        print(f"| {name} | {cost:.2f} | {cost / costs['with_stdlib_json']:.2f}x |")


if __name__ == "__main__":
    main()
