"""What nodes of a cluster tell each other: events and closes for connections one holds.

One envelope per effect, as JSON (relayed payloads are raw JSON already, and
stay spliced); a message on a node's channel is a batch of envelopes
(:func:`encode_batch`), in order, so a busy node pays one publish for many.
The event's class travels by name, since two dialects may use one wire tag
(Bellhop's ``lobby_started`` is not protocol v1's); only classes derived
from :class:`~signalling_server.protocol.events.Event` are ever decoded.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

from ..effects import CloseConnection, Origin, Send
from ..ids import ConnectionId
from ..protocol.events import Event

SEND: Final = 0
CLOSE: Final = 1


class _Outgoing(msgspec.Struct, array_like=True):
    kind: int
    target: str
    event_type: str = ""
    event: Any = None
    ref: str | None = None
    sender: str | None = None
    action: str | None = None
    origin_ref: str | None = None
    code: int = 0
    reason: str = ""


class _Incoming(msgspec.Struct, array_like=True):
    kind: int
    target: str
    event_type: str = ""
    event: msgspec.Raw = msgspec.Raw(b"null")
    ref: str | None = None
    sender: str | None = None
    action: str | None = None
    origin_ref: str | None = None
    code: int = 0
    reason: str = ""


class WireError(ValueError):
    """An envelope from another node that cannot be read (a different version, or garbage)."""


_encoder: Final = msgspec.json.Encoder()
_batch_decoder: Final = msgspec.json.Decoder(list[_Incoming])


def _type_name(kind: type[Event]) -> str:
    return f"{kind.__module__}:{kind.__qualname__}"


class EventTypes:
    """Every event class loaded (protocol v1's and the dialects'), by module-qualified name."""

    def __init__(self) -> None:
        self._decoders: dict[str, msgspec.json.Decoder[Any]] = {}
        self.refresh()

    def refresh(self) -> None:
        """Find every subclass of ``Event`` (dialects import theirs when installed)."""
        pending: list[type[Event]] = [Event]
        while pending:
            kind = pending.pop()
            pending.extend(kind.__subclasses__())
            name = _type_name(kind)
            if kind is not Event and name not in self._decoders:
                self._decoders[name] = msgspec.json.Decoder(kind)

    def decode(self, name: str, raw: bytes) -> Event:
        decoder = self._decoders.get(name)
        if decoder is None:
            self.refresh()
            decoder = self._decoders.get(name)
            if decoder is None:
                raise WireError(f"unknown event type {name!r}")
        event = decoder.decode(raw)
        assert isinstance(event, Event)
        return event


def encode_effect(effect: Send | CloseConnection) -> bytes:
    """The envelope carrying ``effect`` to the node that holds its connection."""
    if isinstance(effect, CloseConnection):
        return _encoder.encode(
            _Outgoing(CLOSE, effect.connection_id, code=effect.code, reason=effect.reason)
        )
    origin = effect.origin
    return _encoder.encode(
        _Outgoing(
            SEND,
            effect.target,
            _type_name(type(effect.event)),
            effect.event,
            effect.ref,
            origin.sender if origin is not None else None,
            origin.action if origin is not None else None,
            origin.ref if origin is not None else None,
        )
    )


def encode_batch(envelopes: list[bytes]) -> bytes:
    """Envelopes from :func:`encode_effect` as one message, in order."""
    return b"[" + b",".join(envelopes) + b"]"


def decode_batch(data: bytes, types: EventTypes) -> list[Send | CloseConnection]:
    """The effects a batch carries, in order; :class:`WireError` if it cannot be read."""
    try:
        envelopes = _batch_decoder.decode(data)
    except msgspec.DecodeError as exc:
        raise WireError(f"unreadable batch: {exc}") from exc
    return [_effect(envelope, types) for envelope in envelopes]


def _effect(envelope: _Incoming, types: EventTypes) -> Send | CloseConnection:
    try:
        target = ConnectionId(envelope.target)
        if envelope.kind == CLOSE:
            return CloseConnection(target, envelope.code, envelope.reason)
        if envelope.kind != SEND:
            raise WireError(f"unknown envelope kind {envelope.kind}")
        event = types.decode(envelope.event_type, envelope.event)
    except msgspec.DecodeError as exc:
        raise WireError(f"unreadable envelope: {exc}") from exc
    origin = (
        Origin(ConnectionId(envelope.sender), envelope.action, envelope.origin_ref)
        if envelope.sender is not None
        else None
    )
    return Send(target, event, envelope.ref, origin)
