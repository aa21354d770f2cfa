"""The signalling node with in-memory outlets: delivery, codecs per connection, undeliverable relays."""

from __future__ import annotations

import json
from typing import Any

from signalling_server.clock import ManualClock
from signalling_server.config import Limits, ServerConfig
from signalling_server.ids import ConnectionId
from signalling_server.node import SignallingNode
from signalling_server.protocol import Decoded, Event, NativeCodec, encode_event


class MemoryOutlet:
    """An outlet that keeps what it is sent; ``open`` false plays a socket already closing."""

    def __init__(self) -> None:
        self.frames: list[bytes] = []
        self.closed: tuple[int, str] | None = None
        self.open = True

    def send(self, frame: bytes) -> bool:
        if not self.open:
            return False
        self.frames.append(frame)
        return True

    def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)
        self.open = False

    def events(self) -> list[dict[str, Any]]:
        out = [json.loads(frame) for frame in self.frames]
        self.frames.clear()
        return out


class ShoutingCodec:
    """A second wire format: native frames in, event names upper-cased out."""

    name = "shouting"

    def __init__(self) -> None:
        self._native = NativeCodec()

    def decode(self, frame: str | bytes) -> Decoded:
        return self._native.decode(frame)

    def encode(self, event: Event, ref: str | None = None) -> bytes:
        message = json.loads(encode_event(event, ref))
        message["event"] = message["event"].upper()
        return json.dumps(message).encode()


def _node() -> SignallingNode:
    config = ServerConfig(limits=Limits(password_hash_iterations=1))
    return SignallingNode(config, clock=ManualClock())


def _act(
    node: SignallingNode, cid: ConnectionId, action: str, ref: str | None = None, **content: Any
) -> None:
    frame: dict[str, Any] = {"action": action, "content": content}
    if ref is not None:
        frame["ref"] = ref
    node.receive(cid, json.dumps(frame))


def _lobby_with_guest(
    node: SignallingNode,
) -> tuple[ConnectionId, MemoryOutlet, ConnectionId, MemoryOutlet]:
    host_out, guest_out = MemoryOutlet(), MemoryOutlet()
    host = node.attach("127.0.0.1", NativeCodec(), host_out)
    guest = node.attach("127.0.0.2", NativeCodec(), guest_out)
    _act(node, host, "start_lobby")
    code = host_out.events()[0]["content"]["lobby_id"]
    _act(node, guest, "join_lobby", lobby_id=code)
    _act(node, host, "accept_request", connection_id=guest)
    host_out.events()
    guest_out.events()
    return host, host_out, guest, guest_out


def test_each_connection_hears_in_its_own_codec() -> None:
    """The same event reaches a native client as native JSON and another client in its codec's format."""
    node = _node()
    host_out, loud_out = MemoryOutlet(), MemoryOutlet()
    host = node.attach("127.0.0.1", NativeCodec(), host_out)
    loud = node.attach("127.0.0.2", ShoutingCodec(), loud_out)
    _act(node, host, "start_lobby")
    code = host_out.events()[0]["content"]["lobby_id"]
    _act(node, loud, "join_lobby", lobby_id=code, name="Loud")
    assert [e["event"] for e in loud_out.events()] == ["JOIN_REQUESTED"]
    assert host_out.events()[0] == {
        "event": "request_to_join",
        "content": {"connection_id": loud, "name": "Loud"},
    }


def test_a_relay_to_a_closing_socket_is_reported_with_its_action_and_ref() -> None:
    """A relay whose recipient's socket is already closing gets unknown_connection naming the action and ref."""
    node = _node()
    host, host_out, guest, guest_out = _lobby_with_guest(node)
    guest_out.open = False  # closing; its disconnect not handled yet
    _act(node, host, "send_message", ref="m1", connection_id=guest, data="hi")
    (error,) = host_out.events()
    assert error["event"] == "error" and error["ref"] == "m1"
    assert error["content"]["code"] == "unknown_connection"
    assert error["content"]["action"] == "send_message" and error["content"]["ref"] == "m1"
    assert node.counters.errors == {"unknown_connection": 1}


def test_detach_tells_the_host_and_shut_down_closes_everyone() -> None:
    """A guest's detach reaches its host as guest_left; shut_down says server_shutdown and closes with 1001."""
    node = _node()
    _, host_out, guest, _ = _lobby_with_guest(node)
    node.detach(guest)
    node.detach(guest)  # twice is harmless
    assert host_out.events() == [
        {"event": "guest_left", "content": {"connection_id": guest, "reason": "disconnected"}}
    ]
    node.shut_down()
    assert host_out.events()[0]["content"]["reason"] == "server_shutdown"
    assert host_out.closed == (1001, "server shutting down")
    assert node.counters.connections == 1 and node.counters.lobbies == 0
