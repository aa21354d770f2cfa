"""groovejet's frames: ``{"type", "data"}`` JSON text frames in and out.

The original server ignored every frame it could not use (not JSON, not a
message it knew, missing fields), and its clients take any ``error`` as fatal.
So :meth:`GroovejetCodec.decode` raises :class:`FrameError` for those frames
(the registry counts them), and :meth:`GroovejetCodec.encode` says nothing
for any event that is not groovejet's own: native errors, rate limits and
undeliverable relays never reach a groovejet client.
"""

from __future__ import annotations

from typing import Annotated, Any, Final

import msgspec

from ...protocol.actions import MAX_ID_LENGTH, NULL
from ...protocol.codes import ErrorCode
from ...protocol.errors import FrameError
from ...protocol.events import Event
from ...protocol.native import DEFAULT_MAX_FRAME_BYTES, Decoded, text_frame
from .messages import (
    AnswerFromHost,
    CreatedRoom,
    CreateRoom,
    GuestOfferSignal,
    HostAnswerSignal,
    Identity,
    JoinedRoom,
    JoinRoom,
    OfferFromGuest,
    RoomError,
)

#: The dialect's name: the registry routes this codec's connections to the rules of that name.
NAME: Final = "groovejet"


class _Envelope(msgspec.Struct):
    type: str
    data: msgspec.Raw = NULL


class _OfferData(msgspec.Struct):
    offer_signal: msgspec.Raw = msgspec.field(name="offerSignal")


class _AnswerData(msgspec.Struct):
    answer_signal: msgspec.Raw = msgspec.field(name="answerSignal")
    client_id: Annotated[str, msgspec.Meta(max_length=MAX_ID_LENGTH)] = msgspec.field(
        name="clientId"
    )


_envelope_decoder: Final = msgspec.json.Decoder(_Envelope)
_offer_decoder: Final = msgspec.json.Decoder(_OfferData)
_answer_decoder: Final = msgspec.json.Decoder(_AnswerData)
_any_decoder: Final = msgspec.json.Decoder()
_encoder: Final = msgspec.json.Encoder()


class GroovejetCodec:
    """One groovejet connection's frames (made per connection by the websocket opener)."""

    name: Final = NAME

    def __init__(self, *, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> None:
        self.max_frame_bytes = max_frame_bytes

    def decode(self, frame: str | bytes) -> Decoded:
        """A frame as one of groovejet's actions; :class:`FrameError` for a frame to ignore."""
        text = text_frame(frame, self.max_frame_bytes)  # groovejet ignores what fails here
        try:
            return _decode(text)
        except msgspec.ValidationError as exc:
            raise FrameError(ErrorCode.INVALID_MESSAGE, str(exc), None, None) from exc
        except msgspec.DecodeError as exc:
            raise FrameError(ErrorCode.INVALID_JSON, str(exc), None, None) from exc
        except RecursionError as exc:
            raise FrameError(ErrorCode.INVALID_JSON, "nested too deeply", None, None) from exc

    def encode(self, event: Event, ref: str | None = None) -> bytes | None:
        """The frame for one of groovejet's events; ``None`` for every other event."""
        message: dict[str, Any]
        if isinstance(event, OfferFromGuest):
            data = {"offerSignal": event.offer_signal, "clientId": event.client_id}
            message = {"type": "guestOfferSignal", "data": data}
        elif isinstance(event, AnswerFromHost):
            message = {"type": "hostAnswerSignal", "data": {"answerSignal": event.answer_signal}}
        elif isinstance(event, Identity):
            message = {"type": "identity", "data": {"clientId": event.client_id}}
        elif isinstance(event, CreatedRoom):
            message = {"type": "createdRoom", "data": {"roomCode": event.room_code}}
        elif isinstance(event, JoinedRoom):
            message = {"type": "joinedRoom", "data": {"isHost": event.is_host}}
        elif isinstance(event, RoomError):
            message = {
                "type": "error",
                "errorType": event.error_type.value,
                "errorMessage": event.error_message,
            }
        else:
            return None
        return _encoder.encode(message)


def _decode(frame: str) -> Decoded:
    envelope = _envelope_decoder.decode(frame)
    kind = envelope.type
    if kind == GuestOfferSignal.NAME:
        offer = _offer_decoder.decode(envelope.data)
        return Decoded(kind, GuestOfferSignal(offer.offer_signal), None)
    if kind == HostAnswerSignal.NAME:
        answer = _answer_decoder.decode(envelope.data)
        return Decoded(kind, HostAnswerSignal(answer.answer_signal, answer.client_id), None)
    if kind == JoinRoom.NAME:
        return Decoded(kind, _join_room(envelope.data), None)
    if kind == CreateRoom.NAME:
        return Decoded(kind, CreateRoom(), None)  # whatever ``data`` holds is not read
    raise FrameError(ErrorCode.UNKNOWN_ACTION, "not a groovejet message", None, None)


def _join_room(raw: msgspec.Raw) -> JoinRoom:
    """``joinRoom`` read as the original server read it (a missing code is the rules' error)."""
    data = _any_decoder.decode(raw)
    if not isinstance(data, dict):
        return JoinRoom(None)
    code = data.get("roomCode")
    return JoinRoom(code if isinstance(code, str) else None, _truthy(data.get("canHost")))


def _truthy(value: object) -> bool:
    """JavaScript's truthiness of a JSON value: ``false``, ``0``, ``""`` and ``null`` are false."""
    if value is None or value is False or value == "":
        return False
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value != 0
    return True
