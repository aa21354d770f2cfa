"""Protocol v1 on the wire: typed actions in, encoded events out.

Frames are decoded in two steps: the envelope (``action``, ``content``,
``ref``) first, with ``content`` kept as raw JSON, then ``content`` with the
decoder of that action. Payloads that the server only forwards (session
descriptions, ICE candidates, chat data, ping values) are validated but kept as
raw JSON and spliced into the outgoing event, so a relayed frame is never
re-encoded.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import Annotated, Any, Final, Literal

import msgspec

from .errors import ErrorCode, ProtocolError

MAX_ID_LENGTH: Final = 64
MAX_NAME_LENGTH: Final = 32
MAX_REASON_LENGTH: Final = 200
MAX_PASSWORD_LENGTH: Final = 128

# Raw text limits, before trimming; the cleaned text is checked again.
_RawName = Annotated[str, msgspec.Meta(max_length=4 * MAX_NAME_LENGTH)]
_RawReason = Annotated[str, msgspec.Meta(max_length=4 * MAX_REASON_LENGTH)]
_Id = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_ID_LENGTH)]
_Password = Annotated[str, msgspec.Meta(max_length=MAX_PASSWORD_LENGTH)]
_Ref = Annotated[str, msgspec.Meta(max_length=MAX_ID_LENGTH)]
_NULL: Final = msgspec.Raw(b"null")


class Envelope(msgspec.Struct):
    """``{"action": ..., "content": {...}, "ref": ...}``; unknown keys are ignored."""

    action: str
    content: msgspec.Raw = _NULL
    ref: _Ref | None = None


class Action(msgspec.Struct, frozen=True):
    """Base of every action's content."""


class StartLobby(Action, frozen=True):
    name: _RawName | None = None
    lobby_id: Annotated[str, msgspec.Meta(max_length=MAX_ID_LENGTH)] | None = None
    max_guests: Annotated[int, msgspec.Meta(ge=1, le=64)] | None = None
    password: _Password | None = None
    display_name: _RawName | None = None


class CloseLobby(Action, frozen=True):
    pass


class SetLobbyOpen(Action, frozen=True):
    open: bool


class JoinLobby(Action, frozen=True):
    lobby_id: Annotated[str, msgspec.Meta(max_length=MAX_ID_LENGTH)]
    name: _RawName | None = None
    password: _Password | None = None


class CancelJoin(Action, frozen=True):
    pass


class AcceptRequest(Action, frozen=True):
    connection_id: _Id


class RejectJoinRequest(Action, frozen=True):
    connection_id: _Id
    reason: _RawReason | None = None


class SessionDescription(msgspec.Struct, frozen=True):
    type: Literal["offer", "answer", "pranswer", "rollback"]
    sdp: str


class IceCandidate(msgspec.Struct, frozen=True):
    candidate: str
    sdpMid: str | None = None  # the W3C field names
    sdpMLineIndex: Annotated[int, msgspec.Meta(ge=0)] | None = None
    usernameFragment: str | None = None


class SetSessionDescription(Action, frozen=True):
    connection_id: _Id
    description: msgspec.Raw  # a SessionDescription, checked and forwarded as sent


class SendIceCandidate(Action, frozen=True):
    connection_id: _Id
    candidate: msgspec.Raw  # an IceCandidate or null, checked and forwarded as sent


class SendMessage(Action, frozen=True):
    connection_id: _Id
    data: msgspec.Raw  # any JSON value, forwarded as sent


class LeaveLobby(Action, frozen=True):
    pass


class KickGuest(Action, frozen=True):
    connection_id: _Id
    reason: _RawReason | None = None


class Resume(Action, frozen=True):
    token: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]


class GetLobbyInfo(Action, frozen=True):
    pass


class GetIceServers(Action, frozen=True):
    pass


class Ping(Action, frozen=True):
    t: msgspec.Raw = _NULL


ACTION_TYPES: Final[Mapping[str, type[Action]]] = {
    "start_lobby": StartLobby,
    "close_lobby": CloseLobby,
    "set_lobby_open": SetLobbyOpen,
    "join_lobby": JoinLobby,
    "cancel_join": CancelJoin,
    "accept_request": AcceptRequest,
    "reject_join_request": RejectJoinRequest,
    "set_session_description": SetSessionDescription,
    "send_ice_candidate": SendIceCandidate,
    "send_message": SendMessage,
    "leave_lobby": LeaveLobby,
    "kick_guest": KickGuest,
    "resume": Resume,
    "get_lobby_info": GetLobbyInfo,
    "get_ice_servers": GetIceServers,
    "ping": Ping,
}

_envelope_decoder: Final = msgspec.json.Decoder(Envelope)
_content_decoders: Final = {name: msgspec.json.Decoder(kind) for name, kind in ACTION_TYPES.items()}
_description_decoder: Final = msgspec.json.Decoder(SessionDescription)
_candidate_decoder: Final = msgspec.json.Decoder(IceCandidate | None)
_any_decoder: Final = msgspec.json.Decoder()
_encoder: Final = msgspec.json.Encoder()


class ParsedFrame(msgspec.Struct, frozen=True):
    """One decoded action."""

    name: str
    content: Action
    ref: str | None


class FrameError(ProtocolError):
    """A frame that could not be decoded; knows what it can of its action and ref."""

    def __init__(self, code: ErrorCode, message: str, action: str | None, ref: str | None) -> None:
        super().__init__(code, message)
        self.action = action
        self.ref = ref


def parse_frame(frame: str | bytes) -> ParsedFrame:
    """Decode and validate one text frame into a typed action.

    Raises :class:`FrameError` with ``invalid_json``, ``invalid_message`` or
    ``unknown_action``.
    """
    try:
        return _parse(frame)
    except RecursionError as exc:
        raise FrameError(ErrorCode.INVALID_JSON, "frame is nested too deeply", None, None) from exc


def _parse(frame: str | bytes) -> ParsedFrame:
    try:
        envelope = _envelope_decoder.decode(frame)
    except msgspec.ValidationError as exc:
        raise _envelope_error(frame, exc) from exc
    except msgspec.DecodeError as exc:
        raise FrameError(
            ErrorCode.INVALID_JSON, f"frame is not valid JSON: {exc}", None, None
        ) from exc
    decoder = _content_decoders.get(envelope.action)
    if decoder is None:
        raise FrameError(
            ErrorCode.UNKNOWN_ACTION,
            f"unknown action {envelope.action[:MAX_ID_LENGTH]!r}",
            None,
            envelope.ref,
        )
    raw = envelope.content
    try:
        content = decoder.decode(b"{}" if raw == _NULL else raw)
        if type(content) is SendIceCandidate:
            _candidate_decoder.decode(content.candidate)
        elif type(content) is SetSessionDescription:
            _description_decoder.decode(content.description)
    except msgspec.ValidationError as exc:
        raise FrameError(
            ErrorCode.INVALID_MESSAGE,
            f"invalid content for {envelope.action}: {exc}",
            envelope.action,
            envelope.ref,
        ) from exc
    return ParsedFrame(envelope.action, content, envelope.ref)


def _envelope_error(frame: str | bytes, exc: msgspec.ValidationError) -> FrameError:
    """Explain an envelope that is JSON but not a valid envelope (the cold path)."""
    try:
        value: Any = _any_decoder.decode(frame)
    except msgspec.DecodeError as syntax:
        # Failed validation early, and is not even JSON further on.
        message = f"frame is not valid JSON: {syntax}"
        return FrameError(ErrorCode.INVALID_JSON, message, None, None)
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


def clean_text(text: str, *, field: str, max_length: int) -> str:
    """Trim ``text`` and drop control and format characters; 1..max_length left.

    Raises ``invalid_message`` when nothing printable is left or too much is.
    """
    cleaned = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C").strip()
    if not cleaned:
        raise ProtocolError(ErrorCode.INVALID_MESSAGE, f"{field} must not be empty")
    if len(cleaned) > max_length:
        raise ProtocolError(
            ErrorCode.INVALID_MESSAGE,
            f"{field} must be at most {max_length} characters",
        )
    return cleaned


# Events --------------------------------------------------------------------


def encode_event(name: str, content: Mapping[str, Any], ref: str | None = None) -> bytes:
    """Encode ``{"event": name, "content": content}`` (with ``ref`` if given)."""
    if ref is None:
        return _encoder.encode({"event": name, "content": content})
    return _encoder.encode({"event": name, "content": content, "ref": ref})


def encode_error(
    code: ErrorCode, message: str, action: str | None, ref: str | None = None
) -> bytes:
    """Encode an ``error`` event; ``ref`` goes in the content and beside it."""
    content: dict[str, Any] = {"code": code.value, "message": message, "action": action}
    if ref is not None:
        content["ref"] = ref
    return encode_event("error", content, ref)


def encode_relay(name: str, sender: str, field: bytes, payload: msgspec.Raw) -> bytes:
    """Encode a relayed event by splicing the sender's raw payload in as sent.

    ``sender`` is a server-made connection id (URL-safe base64: nothing to escape).
    """
    return b"".join(
        (
            b'{"event":"',
            name.encode(),
            b'","content":{"connection_id":"',
            sender.encode(),
            b'","',
            field,
            b'":',
            bytes(payload),
            b"}}",
        )
    )


def encode_pong(t: msgspec.Raw, ref: str | None) -> bytes:
    """Encode ``pong{t}`` with the very value the client sent."""
    body = b'{"event":"pong","content":{"t":' + bytes(t) + b"}"
    if ref is not None:
        body += b',"ref":' + _encoder.encode(ref)
    return body + b"}"
