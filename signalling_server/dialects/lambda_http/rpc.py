"""The Lambda method API: a JSON body with a ``method`` key in, a result out.

Pure: :meth:`LambdaApi.call` takes the request body and returns one of three
results (:class:`JsonResult`, :class:`EmptyResult`, :class:`RefusedResult`);
the HTTP edge (:mod:`.routes`) turns them into replies. Values the client
sends (offers, answers, candidates) are never decoded: their JSON text is
stored and later spliced into replies, so they come back exactly as sent.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import msgspec
from msgspec import Raw

from .channels import ChannelRefused, LambdaRules, Refusal

#: The 400 text for a body that is not a JSON object with a ``method`` key.
INVALID_RPC: Final = "Not a valid rpc. HTTP post body must be a json object with method key"


class Method(enum.StrEnum):
    """The methods the original function answered."""

    CREATE_DATA_CHANNEL = "create_data_channel"
    CREATE_OFFER = "create_offer"
    GET_OFFER = "get_offer"
    CREATE_CANDIDATE = "create_candidate"
    CREATE_ANSWER = "create_answer"
    GET_CANDIDATES = "get_candidates"
    GET_ANSWER = "get_answer"
    ECHO = "echo"


@dataclass(frozen=True, slots=True)
class JsonResult:
    """Success with a JSON body."""

    body: bytes


@dataclass(frozen=True, slots=True)
class EmptyResult:
    """Success with an empty body."""


@dataclass(frozen=True, slots=True)
class RefusedResult:
    """A refusal: ``text`` for the client, ``code`` for the error counters."""

    text: str
    code: str


RpcResult = JsonResult | EmptyResult | RefusedResult

EMPTY: Final = EmptyResult()
_body_decoder: Final = msgspec.json.Decoder(dict[str, Raw])
_string_decoder: Final = msgspec.json.Decoder(str)
_encoder: Final = msgspec.json.Encoder()

Fields = dict[str, Raw]


class LambdaApi:
    """Applies one method call to :class:`LambdaRules`."""

    def __init__(self, rules: LambdaRules) -> None:
        self._rules = rules
        self._methods: dict[Method, Callable[[Fields], RpcResult]] = {
            Method.CREATE_DATA_CHANNEL: self._create_data_channel,
            Method.CREATE_OFFER: self._create_offer,
            Method.GET_OFFER: self._get_offer,
            Method.CREATE_CANDIDATE: self._create_candidate,
            Method.CREATE_ANSWER: self._create_answer,
            Method.GET_CANDIDATES: self._get_candidates,
            Method.GET_ANSWER: self._get_answer,
            Method.ECHO: self._echo,
        }

    def call(self, body: bytes) -> RpcResult:
        """The result of the call ``body`` holds (a body of any content type)."""
        fields = _decode_body(body)
        if fields is None or "method" not in fields:
            return RefusedResult(INVALID_RPC, "lambda_invalid_rpc")
        name = _method_name(fields["method"])
        try:
            method = Method(name)
        except ValueError:
            return RefusedResult(f"unknown method {name}", "lambda_unknown_method")
        try:
            return self._methods[method](fields)
        except ChannelRefused as exc:
            return RefusedResult(exc.refusal.value, f"lambda_{exc.refusal.name.lower()}")

    # Methods --------------------------------------------------------------------------

    def _create_data_channel(self, fields: Fields) -> RpcResult:
        channel_id = self._rules.create_channel()
        return JsonResult(_encoder.encode({"channel_id": channel_id}))

    def _create_offer(self, fields: Fields) -> RpcResult:
        channel_id = _channel_id(fields)
        offer = _required(fields, "offer", Refusal.OFFER_REQUIRED)
        self._rules.put_offer(_usable(channel_id, Refusal.OFFER_FAILED), offer)
        return EMPTY

    def _create_candidate(self, fields: Fields) -> RpcResult:
        channel_id = _channel_id(fields)
        candidate = _required(fields, "candidate", Refusal.CANDIDATE_REQUIRED)
        self._rules.add_candidate(_usable(channel_id, Refusal.CANDIDATE_FAILED), candidate)
        return EMPTY

    def _create_answer(self, fields: Fields) -> RpcResult:
        channel_id = _channel_id(fields)
        answer = _required(fields, "answer", Refusal.ANSWER_REQUIRED)
        self._rules.put_answer(_usable(channel_id, Refusal.ANSWER_FAILED), answer)
        return EMPTY

    def _get_offer(self, fields: Fields) -> RpcResult:
        channel_id = _usable(_channel_id(fields), Refusal.CHANNEL_NOT_FOUND)
        return JsonResult(_encoder.encode({"offer": Raw(self._rules.offer(channel_id))}))

    def _get_answer(self, fields: Fields) -> RpcResult:
        channel_id = _usable(_channel_id(fields), Refusal.CHANNEL_NOT_FOUND)
        return JsonResult(_encoder.encode({"answer": Raw(self._rules.answer(channel_id))}))

    def _get_candidates(self, fields: Fields) -> RpcResult:
        channel_id = _usable(_channel_id(fields), Refusal.CHANNEL_NOT_FOUND)
        items = [Raw(candidate) for candidate in self._rules.candidates(channel_id)]
        return JsonResult(_encoder.encode({"items": items}))

    def _echo(self, fields: Fields) -> RpcResult:
        return JsonResult(_encoder.encode(fields))


def _decode_body(body: bytes) -> Fields | None:
    """The body's top-level members, or ``None`` when it is not a JSON object."""
    try:
        # Raw members are checked for JSON syntax but not for UTF-8; they are
        # sent back to clients, so the whole body is checked first.
        body.decode("utf-8")
        return _body_decoder.decode(body)
    except (UnicodeDecodeError, msgspec.DecodeError):
        return None
    except RecursionError:  # msgspec's answer to arrays or objects nested too deep
        return None


def _method_name(raw: Raw) -> str:
    """The method's name; a value that is not a string is named by its JSON text."""
    try:
        return _string_decoder.decode(raw)
    except msgspec.DecodeError:
        return bytes(raw).decode("utf-8")


def _required(fields: Fields, key: str, missing: Refusal) -> bytes:
    """The JSON text of ``key`` (any JSON value, ``null`` included)."""
    raw = fields.get(key)
    if raw is None:
        raise ChannelRefused(missing)
    return bytes(raw)


def _channel_id(fields: Fields) -> str | None:
    """The ``channel_id`` given (``None`` when it is not a string); refused when absent."""
    raw = fields.get("channel_id")
    if raw is None:
        raise ChannelRefused(Refusal.CHANNEL_ID_REQUIRED)
    try:
        return _string_decoder.decode(raw)
    except msgspec.DecodeError:
        return None


def _usable(channel_id: str | None, refusal: Refusal) -> str:
    """``channel_id`` if it is a string; else refused with ``refusal``."""
    if channel_id is None:
        raise ChannelRefused(refusal)
    return channel_id


__all__ = [
    "INVALID_RPC",
    "EmptyResult",
    "JsonResult",
    "LambdaApi",
    "Method",
    "RefusedResult",
    "RpcResult",
]
