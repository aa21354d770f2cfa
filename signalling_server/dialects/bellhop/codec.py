"""Bellhop's frames: ``{"action", "content"}`` in, ``{"event", "content"}`` out.

One :class:`BellhopCodec` per connection: it knows its connection's id (the
rules tell it when the connection opens), because Bellhop answers anything it
cannot carry out with the frame AWS API Gateway sent for a failed Lambda,
``{"message": "Internal server error", "connectionId": <caller>, "requestId": <random>}``.

Events the native rules raise for Bellhop connections are translated here:
``request_accepted`` becomes ``join_request_accepted``, ``request_rejected``
(a pending request timed out) becomes ``join_request_rejected`` with a
sentence, every ``error`` becomes the internal-server-error frame, and what a
Bellhop client was never told (``lobby_closed``, ``guest_left`` ...) becomes
nothing.
"""

from __future__ import annotations

import base64
import secrets
from typing import Final

import msgspec

from ...protocol.actions import NULL, Action
from ...protocol.codes import ErrorCode, RejectReason
from ...protocol.errors import FrameError
from ...protocol.events import Error, Event, RequestAccepted, RequestRejected
from ...protocol.native import DEFAULT_MAX_FRAME_BYTES, Decoded, text_frame
from . import reasons
from .lobby_ids import DIALECT, bellhop_id
from .messages import (
    ACTION_TYPES,
    BellhopEvent,
    JoinRequestAccepted,
    JoinRequestRejected,
)


class _Envelope(msgspec.Struct):
    """``{"action": ..., "content": {...}}``; other keys are ignored."""

    action: str
    content: msgspec.Raw = NULL


_envelope_decoder: Final = msgspec.json.Decoder(_Envelope)
_content_decoders: Final[dict[str, msgspec.json.Decoder[Action]]] = {
    name: msgspec.json.Decoder(kind) for name, kind in ACTION_TYPES.items()
}
_encoder: Final = msgspec.json.Encoder()
_OWN_EVENTS: Final[frozenset[type[Event]]] = frozenset(BellhopEvent.__args__)
_EMPTY: Final = b"{}"
_EVENT_HEAD: Final = len(b'{"event":"')
_CONTENT: Final = b',"content":'
_INTERNAL_ERROR_HEAD: Final = b'{"message":"Internal server error","connectionId":'


class BellhopCodec:
    """The frames of one Bellhop connection."""

    name: Final = DIALECT

    __slots__ = ("connection_id", "max_frame_bytes")

    def __init__(self, *, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> None:
        self.max_frame_bytes = max_frame_bytes
        #: This connection's id, named in internal-server-error frames; set when it opens.
        self.connection_id = ""

    def decode(self, frame: str | bytes) -> Decoded:
        """One client frame as a Bellhop action; raises :class:`FrameError` when unusable."""
        frame = text_frame(frame, self.max_frame_bytes)
        try:
            envelope = _envelope_decoder.decode(frame)
        except msgspec.ValidationError as exc:
            raise FrameError(
                ErrorCode.INVALID_MESSAGE, f"invalid frame: {exc}", None, None
            ) from exc
        except (msgspec.DecodeError, RecursionError) as exc:
            raise FrameError(ErrorCode.INVALID_JSON, "frame is not valid JSON", None, None) from exc
        name = envelope.action
        decoder = _content_decoders.get(name)
        if decoder is None:
            raise FrameError(ErrorCode.UNKNOWN_ACTION, "unknown action", name[:64], None)
        raw = envelope.content
        try:
            action = decoder.decode(_EMPTY if raw == NULL else raw)
        except msgspec.ValidationError as exc:
            raise FrameError(
                ErrorCode.INVALID_MESSAGE, f"invalid content for {name}: {exc}", name, None
            ) from exc
        return Decoded(name, action, None)

    def encode(self, event: Event, ref: str | None = None) -> bytes | None:
        """The frame for ``event``; ``None`` for what a Bellhop client is never told."""
        if type(event) in _OWN_EVENTS:  # relays above all: most of what is sent
            return _frame(event)
        if isinstance(event, Error):
            return self._internal_error()
        if isinstance(event, RequestAccepted):
            return _frame(JoinRequestAccepted(event.host_connection_id, event.peer_id))
        if isinstance(event, RequestRejected):
            return _frame(JoinRequestRejected(_rejection_reason(event)))
        return None

    def _internal_error(self) -> bytes:
        # API Gateway's request ids: 16 characters of base64.
        request_id = base64.b64encode(secrets.token_bytes(11))
        return b"".join(
            (
                _INTERNAL_ERROR_HEAD,
                _encoder.encode(self.connection_id),
                b',"requestId":"',
                request_id,
                b'"}',
            )
        )


def _frame(event: Event) -> bytes:
    """``{"event": <tag>, "content": {<fields>}}`` (msgspec writes the tag first)."""
    flat = _encoder.encode(event)
    head_end = flat.index(b'"', _EVENT_HEAD) + 1
    if flat[head_end] == ord("}"):
        return flat[:head_end] + _CONTENT + b"{}}"
    return b"".join((flat[:head_end], _CONTENT, b"{", flat[head_end + 1 :], b"}"))


def _rejection_reason(event: RequestRejected) -> str:
    lobby_id = bellhop_id(event.lobby_id)
    if event.reason is RejectReason.TIMEOUT:
        return reasons.host_did_not_answer(lobby_id)
    if event.reason is RejectReason.HOST_LEFT:
        return reasons.no_host(lobby_id)
    return event.message if event.message is not None else reasons.rejected_by_host()
