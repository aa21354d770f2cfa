"""What nodes of a cluster tell each other: events and closes for connections one holds.

A message on a node's channel is a batch (:func:`encode_batch`): msgpack, a
wire version, the sending node's wall-clock time at publishing (for the hop
histogram), then one envelope per effect, in order, so a busy node pays one
publish per destination node and loop tick. Relays, most of the traffic,
travel as their payload bytes exactly as the sender wrote them, and are
rebuilt without parsing JSON; other events travel as their JSON, with the
event's class by name, since two dialects may use one wire tag (Bellhop's
``lobby_started`` is not protocol v1's); only classes derived from
:class:`~signalling_server.protocol.events.Event` are ever decoded.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

from ..effects import CloseConnection, Origin, Send
from ..ids import ConnectionId
from ..protocol import events as ev
from ..protocol.events import Event

#: Bumped when the envelopes change: a node refuses batches of another version, loudly.
WIRE_VERSION: Final = 2

#: Relay events by their kind in an envelope (see :func:`_relay_parts`).
_RELAY_KINDS: Final = (ev.ReceivedIceCandidate, ev.ReceivedSessionDescription, ev.ReceivedMessage)


class _Relay(msgspec.Struct, array_like=True, tag=0):
    """A relayed candidate, description or message: its sender and payload, unparsed."""

    target: str
    kind: int
    sender: str
    payload: bytes
    origin_sender: str | None = None
    origin_action: str | None = None
    origin_ref: str | None = None


class _Event(msgspec.Struct, array_like=True, tag=1):
    """Any other event, as the JSON of its class."""

    target: str
    event_type: str
    event: bytes
    ref: str | None = None
    origin_sender: str | None = None
    origin_action: str | None = None
    origin_ref: str | None = None


class _Close(msgspec.Struct, array_like=True, tag=2):
    target: str
    code: int
    reason: str


Envelope = _Relay | _Event | _Close


class _Batch(msgspec.Struct, array_like=True):
    version: int
    #: The sending node's ``time.time()`` when it published the batch.
    sent_at: float
    envelopes: list[Envelope]


class _BatchHead(msgspec.Struct, array_like=True):
    """Only the version, to refuse another version's batch before reading its envelopes."""

    version: int


class WireError(ValueError):
    """A batch from another node that cannot be read (a different version, or garbage)."""


_json_encoder: Final = msgspec.json.Encoder()
_batch_encoder: Final = msgspec.msgpack.Encoder()
_batch_decoder: Final = msgspec.msgpack.Decoder(_Batch)
_head_decoder: Final = msgspec.msgpack.Decoder(_BatchHead)


def _type_name(kind: type[Event]) -> str:
    return f"{kind.__module__}:{kind.__qualname__}"


class EventTypes:
    """Every event class loaded (protocol v1's and the dialects'), by module-qualified name."""

    def __init__(self) -> None:
        self._decoders: dict[str, msgspec.json.Decoder[Any]] = {}
        self._names: dict[type[Event], str] = {}
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

    def name(self, kind: type[Event]) -> str:
        """The name ``kind`` travels by."""
        name = self._names.get(kind)
        if name is None:
            name = self._names[kind] = _type_name(kind)
        return name

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


def _relay_parts(event: Event) -> tuple[int, str, msgspec.Raw] | None:
    """A relay event as (kind, sender, payload as the sender wrote it); ``None`` for others."""
    kind = type(event)
    if kind is ev.ReceivedIceCandidate:
        return 0, event.connection_id, event.candidate  # type: ignore[attr-defined]
    if kind is ev.ReceivedSessionDescription:
        return 1, event.connection_id, event.description  # type: ignore[attr-defined]
    if kind is ev.ReceivedMessage:
        return 2, event.connection_id, event.data  # type: ignore[attr-defined]
    return None


def envelope(effect: Send | CloseConnection, types: EventTypes) -> Envelope:
    """The envelope carrying ``effect`` to the node that holds its connection."""
    if isinstance(effect, CloseConnection):
        return _Close(effect.connection_id, effect.code, effect.reason)
    event, origin = effect.event, effect.origin
    relay = _relay_parts(event) if effect.ref is None else None
    if relay is not None:
        kind, sender, payload = relay
        if origin is None:
            return _Relay(effect.target, kind, sender, bytes(payload))
        return _Relay(
            effect.target, kind, sender, bytes(payload), origin.sender, origin.action, origin.ref
        )
    name, data = types.name(type(event)), _json_encoder.encode(event)
    if origin is None:
        return _Event(effect.target, name, data, effect.ref)
    return _Event(effect.target, name, data, effect.ref, origin.sender, origin.action, origin.ref)


def encode_batch(envelopes: list[Envelope], sent_at: float) -> bytes:
    """Envelopes from :func:`envelope` as one message, in order, stamped ``sent_at``."""
    return _batch_encoder.encode(_Batch(WIRE_VERSION, sent_at, envelopes))


def decode_batch(data: bytes, types: EventTypes) -> tuple[float, list[Send | CloseConnection]]:
    """When a batch was published, and the effects it carries in order; else :class:`WireError`."""
    try:
        batch = _batch_decoder.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        try:
            version = _head_decoder.decode(data).version
        except (msgspec.DecodeError, msgspec.ValidationError):
            raise WireError(f"unreadable batch: {exc}") from exc
        if version != WIRE_VERSION:
            raise WireError(f"a batch of wire version {version}, not {WIRE_VERSION}") from exc
        raise WireError(f"unreadable batch: {exc}") from exc
    if batch.version != WIRE_VERSION:
        raise WireError(f"a batch of wire version {batch.version}, not {WIRE_VERSION}")
    return batch.sent_at, [_effect(item, types) for item in batch.envelopes]


def _effect(item: Envelope, types: EventTypes) -> Send | CloseConnection:
    if type(item) is _Relay:
        if not 0 <= item.kind < len(_RELAY_KINDS):
            raise WireError(f"unknown relay kind {item.kind}")
        event: Event = _RELAY_KINDS[item.kind](item.sender, msgspec.Raw(item.payload))
        return Send(ConnectionId(item.target), event, None, _origin(item))
    if type(item) is _Event:
        try:
            event = types.decode(item.event_type, item.event)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise WireError(f"unreadable event: {exc}") from exc
        return Send(ConnectionId(item.target), event, item.ref, _origin(item))
    assert type(item) is _Close
    return CloseConnection(ConnectionId(item.target), item.code, item.reason)


def _origin(item: _Relay | _Event) -> Origin | None:
    if item.origin_sender is None:
        return None
    return Origin(ConnectionId(item.origin_sender), item.origin_action, item.origin_ref)
