"""The native wire format of protocol v1: one JSON object per text frame.

Server side, :class:`NativeCodec` turns a client's frame into a typed action
(:meth:`~NativeCodec.decode`) and an event into the frame for the client
(:meth:`~NativeCodec.encode`). Client side, :func:`encode_action` and
:func:`decode_event` do the reverse. Both directions are sans-I/O.

Actions are decoded in two steps: the envelope (``action``, ``content``,
``ref``) first, with ``content`` kept as raw JSON, then ``content`` with the
decoder of that action. Events are encoded by msgspec, which writes a tagged
struct's tag first: ``{"event":"x","a":1}`` becomes ``{"event":"x","content":{"a":1}}``
by splicing, so relayed payloads (raw JSON) are copied in as sent, never
re-encoded.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import msgspec

from .actions import (
    ACTION_TYPES,
    MAX_ID_LENGTH,
    NULL,
    Action,
    IceCandidate,
    Ref,
    SaveSnapshot,
    SendIceCandidate,
    SendMessage,
    SessionDescription,
    SetSessionDescription,
)
from .codes import ErrorCode
from .errors import FrameError
from .events import (
    EVENT_TYPES,
    Event,
    ReceivedIceCandidate,
    ReceivedMessage,
    ReceivedSessionDescription,
)

#: Frames of protocol v1 are at most this big unless a server says otherwise.
DEFAULT_MAX_FRAME_BYTES: Final = 64 * 1024


class Envelope(msgspec.Struct):
    """``{"action": ..., "content": {...}, "ref": ...}``; unknown keys are ignored."""

    action: str
    content: msgspec.Raw = NULL
    ref: Ref | None = None


class EventEnvelope(msgspec.Struct):
    """``{"event": ..., "content": {...}, "ref": ...}`` as a client reads it."""

    event: str
    content: msgspec.Raw = NULL
    ref: str | None = None


class Decoded(msgspec.Struct, frozen=True):
    """One decoded action with its name and the client's ``ref``."""

    name: str
    action: Action
    ref: str | None


class Received(msgspec.Struct, frozen=True):
    """One decoded event with the ``ref`` it answers, as a client reads it."""

    event: Event
    ref: str | None


class _IceCandidateFrame(msgspec.Struct, tag_field="action", tag=SendIceCandidate.NAME):
    content: SendIceCandidate
    ref: Ref | None = None


class _SessionDescriptionFrame(msgspec.Struct, tag_field="action", tag=SetSessionDescription.NAME):
    content: SetSessionDescription
    ref: Ref | None = None


class _MessageFrame(msgspec.Struct, tag_field="action", tag=SendMessage.NAME):
    content: SendMessage
    ref: Ref | None = None


_envelope_decoder: Final = msgspec.json.Decoder(Envelope)
# Relays are most frames: a well-formed one is read in one pass. msgspec refuses
# a frame whose "action" keys disagree, so what it reads is what the two-step
# decoding reads; anything it refuses is decoded in two steps, for the error.
_relay_decoder: Final = msgspec.json.Decoder(
    _IceCandidateFrame | _SessionDescriptionFrame | _MessageFrame
)
_content_decoders: Final = {name: msgspec.json.Decoder(kind) for name, kind in ACTION_TYPES.items()}
_description_decoder: Final = msgspec.json.Decoder(SessionDescription)
_candidate_decoder: Final = msgspec.json.Decoder(IceCandidate | None)
_any_decoder: Final = msgspec.json.Decoder()
_event_envelope_decoder: Final = msgspec.json.Decoder(EventEnvelope)
_event_decoders: Final[Mapping[str, msgspec.json.Decoder[Any]]] = {
    name: msgspec.json.Decoder(kind) for name, kind in EVENT_TYPES.items()
}
_encoder: Final = msgspec.json.Encoder()
_EMPTY: Final = b"{}"


class NativeCodec:
    """Protocol v1's JSON text frames, for one server's limits.

    :meth:`decode` raises :class:`FrameError` (``invalid_json``,
    ``invalid_message``, ``unknown_action``, ``message_too_large``); the error
    names the action and ``ref`` whenever the frame let them be read.
    """

    name: Final = "native"

    def __init__(
        self,
        *,
        max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
        max_snapshot_frame_bytes: int | None = None,
    ) -> None:
        self.max_frame_bytes = max_frame_bytes
        #: ``save_snapshot`` frames may be this big (a snapshot outgrows other frames).
        self.max_snapshot_frame_bytes = max(max_frame_bytes, max_snapshot_frame_bytes or 0)

    def decode(self, frame: str | bytes) -> Decoded:
        """One client frame (``bytes`` stands for a binary frame) as a typed action."""
        # Most frames are text certainly within the limit (UTF-8 is at most 4 bytes
        # a character); the others are checked exactly.
        if type(frame) is not str or len(frame) * 4 > self.max_frame_bytes:
            try:
                text_frame(frame, self.max_frame_bytes)
            except FrameError:
                snapshot = self._snapshot_frame(frame)
                if snapshot is None:
                    raise
                return snapshot
        return _decode_guarded(frame)  # type: ignore[arg-type]

    def _snapshot_frame(self, frame: str | bytes) -> Decoded | None:
        """A ``save_snapshot`` above the frame limit but within the snapshot frame limit."""
        if (
            self.max_snapshot_frame_bytes == self.max_frame_bytes
            or not isinstance(frame, str)
            or '"save_snapshot"' not in frame
            or len(frame.encode()) > self.max_snapshot_frame_bytes
        ):
            return None
        decoded = _decode_guarded(frame)
        return decoded if type(decoded.action) is SaveSnapshot else None

    def encode(self, event: Event, ref: str | None = None) -> bytes:
        """The text frame (UTF-8) that carries ``event`` (and ``ref``) to a client."""
        return encode_event(event, ref)


def _relay_head(name: str, field: str) -> tuple[bytes, bytes]:
    return (
        b'{"event":"' + name.encode() + b'","content":{"connection_id":"',
        b'","' + field.encode() + b'":',
    )


# Relays are most of what a server sends: their frames are joined from constant
# pieces, the sender's id and the payload as the sender wrote it.
_CANDIDATE_HEAD: Final = _relay_head("received_ice_candidate", "candidate")
_DESCRIPTION_HEAD: Final = _relay_head("received_session_description", "description")
_MESSAGE_HEAD: Final = _relay_head("received_message", "data")


def text_frame(frame: str | bytes, max_frame_bytes: int) -> str:
    """``frame`` if it is a text frame within the limit; else a :class:`FrameError`.

    The checks every JSON-over-text codec makes first (the dialects' too).
    """
    if isinstance(frame, bytes):
        raise FrameError(ErrorCode.INVALID_MESSAGE, "binary frames are not supported", None, None)
    if len(frame) * 4 > max_frame_bytes and len(frame.encode()) > max_frame_bytes:
        raise FrameError(
            ErrorCode.MESSAGE_TOO_LARGE,
            f"frames are limited to {max_frame_bytes} bytes",
            None,
            None,
        )
    return frame


def encode_event(event: Event, ref: str | None = None) -> bytes:
    """``{"event": name, "content": {...}}`` (with ``"ref"`` when given)."""
    if ref is not None:
        return _encode_tagged(event, ref)
    if isinstance(event, ReceivedIceCandidate):
        (head, field), payload = _CANDIDATE_HEAD, event.candidate
    elif isinstance(event, ReceivedSessionDescription):
        (head, field), payload = _DESCRIPTION_HEAD, event.description
    elif isinstance(event, ReceivedMessage):
        (head, field), payload = _MESSAGE_HEAD, event.data
    else:
        return _encode_tagged(event, ref)
    # Connection ids are made by the server, URL-safe base64: nothing to escape.
    return b"".join((head, event.connection_id.encode(), field, bytes(payload), b"}}"))


def _encode_tagged(event: Event, ref: str | None) -> bytes:
    flat = _encoder.encode(event)
    # msgspec writes the tag first: b'{"event":"name"' then b'}' or b',"field":...}'.
    head_end = flat.index(b'"', 10) + 1
    fields = flat[head_end + 1 : -1] if len(flat) > head_end + 1 else b""
    tail = b"}}" if ref is None else b'},"ref":' + _encoder.encode(ref) + b"}"
    return b"".join((flat[:head_end], b',"content":{', fields, tail))


def _decode_guarded(frame: str) -> Decoded:
    try:
        relay = _relay_decoder.decode(frame)
    except (msgspec.DecodeError, RecursionError):
        pass  # not a well-formed relay: the two steps say what it is
    else:
        content = relay.content
        try:
            if type(content) is SendIceCandidate:
                _candidate_decoder.decode(content.candidate)
            elif type(content) is SetSessionDescription:
                _description_decoder.decode(content.description)
        except (msgspec.DecodeError, RecursionError):
            pass
        else:
            return Decoded(content.NAME, content, relay.ref)
    return decode_in_two_steps(frame)


def decode_in_two_steps(frame: str) -> Decoded:
    """The general decoding: the envelope, then its content (what every frame must decode to)."""
    try:
        return _decode_action(frame)
    except RecursionError as exc:
        raise FrameError(ErrorCode.INVALID_JSON, "frame is nested too deeply", None, None) from exc


def _decode_action(frame: str) -> Decoded:
    try:
        envelope = _envelope_decoder.decode(frame)
    except msgspec.ValidationError as exc:
        raise _envelope_error(frame, exc) from exc
    except msgspec.DecodeError as exc:
        raise FrameError(
            ErrorCode.INVALID_JSON, f"frame is not valid JSON: {exc}", None, None
        ) from exc
    name = envelope.action
    decoder = _content_decoders.get(name)
    if decoder is None:
        raise FrameError(
            ErrorCode.UNKNOWN_ACTION,
            f"unknown action {name[:MAX_ID_LENGTH]!r}",
            name[:MAX_ID_LENGTH],
            envelope.ref,
        )
    raw = envelope.content
    try:
        content = decoder.decode(_EMPTY if raw == NULL else raw)
        if type(content) is SendIceCandidate:
            _candidate_decoder.decode(content.candidate)
        elif type(content) is SetSessionDescription:
            _description_decoder.decode(content.description)
    except msgspec.ValidationError as exc:
        raise FrameError(
            ErrorCode.INVALID_MESSAGE, f"invalid content for {name}: {exc}", name, envelope.ref
        ) from exc
    return Decoded(name, content, envelope.ref)


def _envelope_error(frame: str | bytes, exc: msgspec.ValidationError) -> FrameError:
    """Explain an envelope that is JSON but not a valid envelope (the cold path)."""
    try:
        value: Any = _any_decoder.decode(frame)
    except msgspec.DecodeError as syntax:
        # Failed validation early, and is not even JSON further on.
        return FrameError(ErrorCode.INVALID_JSON, f"frame is not valid JSON: {syntax}", None, None)
    if not isinstance(value, dict):
        return FrameError(ErrorCode.INVALID_JSON, "frame must be a JSON object", None, None)
    action = value.get("action")
    ref = value.get("ref")
    return FrameError(
        ErrorCode.INVALID_MESSAGE,
        f"invalid envelope: {exc}",
        action[:MAX_ID_LENGTH] if isinstance(action, str) else None,
        ref if isinstance(ref, str) and len(ref) <= MAX_ID_LENGTH else None,
    )


# Client side -------------------------------------------------------------------------------


class UnknownEvent(Exception):
    """A frame from the server that is not an event of protocol v1 (skipped by clients)."""


def encode_action(action: Action, ref: str | None = None) -> bytes:
    """The text frame that carries ``action`` (and ``ref``) to the server."""
    content = _encoder.encode(action)
    head = b'{"action":' + _encoder.encode(action.NAME) + b',"content":' + content
    return head + (b"}" if ref is None else b',"ref":' + _encoder.encode(ref) + b"}")


def decode_event(frame: str | bytes) -> Received:
    """A server frame as a typed event; raises :class:`UnknownEvent` for anything else."""
    try:
        envelope = _event_envelope_decoder.decode(frame)
        decoder = _event_decoders.get(envelope.event)
        if decoder is None:
            raise UnknownEvent(f"unknown event {envelope.event[:MAX_ID_LENGTH]!r}")
        raw = envelope.content
        event: Event = decoder.decode(_EMPTY if raw == NULL else raw)
    except (msgspec.DecodeError, RecursionError) as exc:  # ValidationError is a DecodeError
        raise UnknownEvent(f"not a protocol v1 event: {exc}") from exc
    return Received(event, envelope.ref)
