"""The Camus websocket's frames for one member's connection.

One codec per connection: it knows the room and the member the cookie named
when the socket opened, and writes that member's id as every frame's
``receiver``. Frames that cannot be read raise :class:`FrameError`; the server
answers those (and any other native error) with nothing, as Camus did.
"""

from __future__ import annotations

from typing import Final

import msgspec

from ...protocol.codes import ErrorCode
from ...protocol.errors import FrameError
from ...protocol.events import Event
from ...protocol.native import Decoded
from .messages import (
    GROUND_CONTROL,
    Bye,
    CamusFrame,
    IceServers,
    Ping,
    Pong,
    Relayed,
    RoomInfo,
    UnknownType,
)

#: The codec's (and the dialect's) name.
NAME: Final = "camus"

_decoder: Final = msgspec.json.Decoder(CamusFrame)
_encoder: Final = msgspec.json.Encoder()
_GROUND_CONTROL: Final = _encoder.encode(GROUND_CONTROL)


class CamusCodec:
    """Camus frames ``{sender, receiver, type, data}`` for one member (``member_id``) of a room."""

    name: Final = NAME

    def __init__(self, slug: str, member_id: str, *, max_frame_bytes: int) -> None:
        self.slug = slug
        self.member_id = member_id
        self.max_frame_bytes = max_frame_bytes
        self._receiver = _encoder.encode(member_id)

    def decode(self, frame: str | bytes) -> Decoded:
        """A member's frame (text, or binary holding the same JSON) as a :class:`CamusFrame`."""
        limit = self.max_frame_bytes
        # A str is at most 4 UTF-8 bytes a character: encode it only when it might be too big.
        if isinstance(frame, bytes):
            too_large = len(frame) > limit
        else:
            too_large = len(frame) * 4 > limit and len(frame.encode()) > limit
        if too_large:
            raise FrameError(
                ErrorCode.MESSAGE_TOO_LARGE, f"frames are limited to {limit} bytes", None, None
            )
        try:
            message = _decoder.decode(frame)
        except msgspec.DecodeError as exc:  # ValidationError included
            raise FrameError(
                ErrorCode.INVALID_MESSAGE, f"not a Camus frame: {exc}", None, None
            ) from exc
        except RecursionError as exc:
            raise FrameError(
                ErrorCode.INVALID_JSON, "frame is nested too deeply", None, None
            ) from exc
        return Decoded(CamusFrame.NAME, message, None)

    def encode(self, event: Event, ref: str | None = None) -> bytes | None:
        """The frame for this member; ``None`` for events Camus clients never hear (errors)."""
        match event:
            case Relayed(sender=sender, type=kind, data=data):
                return self._frame(_encoder.encode(sender), kind, bytes(data))
            case Pong(data=data):
                return self._frame(_GROUND_CONTROL, "pong", bytes(data))
            case RoomInfo(room_id=room_id, clients=clients):
                info = _encoder.encode({"room_id": room_id, "clients": clients})
                return self._frame(_GROUND_CONTROL, "room-info", info)
            case IceServers(servers=servers):
                return self._frame(_GROUND_CONTROL, "ice-servers", _encoder.encode(servers))
            case UnknownType(type=kind):
                text = f"Unknown message type: {kind}"  # None reads "None", as Camus wrote it
                return self._frame(_GROUND_CONTROL, "error", _encoder.encode(text))
            case Ping(time=time):
                return self._frame(_GROUND_CONTROL, "ping", _encoder.encode(time))
            case Bye(time=time):
                return self._frame(_GROUND_CONTROL, "bye", _encoder.encode(time))
        return None

    def _frame(self, sender: bytes, kind: str, data: bytes) -> bytes:
        return b"".join(
            (
                b'{"sender":',
                sender,
                b',"receiver":',
                self._receiver,
                b',"type":',
                _encoder.encode(kind),
                b',"data":',
                data,
                b"}",
            )
        )
