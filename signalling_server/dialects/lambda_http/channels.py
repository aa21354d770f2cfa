"""Lambda channels: two-party mailboxes kept as byte records, with strict expiry. Sans I/O.

A channel is ``{offer?, answer?, candidates[], expires_at}`` stored in the
state backend as a record of kind :data:`RECORD_KIND`, keyed by its id. It
lives :attr:`ChannelLimits.ttl_s` seconds (times the registry's
``dialect_time_scale``) from creation; writes never extend it. An expired
channel is treated as absent by every operation from the instant it expires,
and a timer deletes its record then.

Offers, answers and candidates are kept as the JSON text the client sent and
handed back as is: the server never decodes them.

Operations refuse with :class:`ChannelRefused`, whose :class:`Refusal` is the
exact text the original Lambda function answered.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, NewType

import msgspec

from ...protocol.errors import SignallingError

if TYPE_CHECKING:
    from ...dialect import ActionHandler
    from ...ids import ConnectionId
    from ...lobby import Connection, Lobby, Role
    from ...protocol.actions import Action
    from ...registry import LobbyRegistry

#: The dialect's name: its timers are planned under it.
DIALECT: Final = "lambda"
#: The kind of the backend records holding channels.
RECORD_KIND: Final = "lambda-channel"

ChannelId = NewType("ChannelId", str)


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelLimits:
    """How long channels live and how much they may hold."""

    #: Seconds from creation to expiry (times ``dialect_time_scale``).
    ttl_s: float = 300.0
    #: Channels alive at once, across the backend; creation beyond it is refused.
    max_channels: int = 10_000
    #: Candidates one channel holds (both peers together).
    max_candidates: int = 256
    #: Bytes of offer, answer and candidates one channel holds.
    max_channel_bytes: int = 128 * 1024
    #: Longest channel id a client may name (the original's were uuid4 strings).
    max_channel_id_chars: int = 256


class Refusal(enum.StrEnum):
    """Why an operation was refused: the exact 400 text of the original."""

    TRY_AGAIN = "try again!"
    CHANNEL_ID_REQUIRED = "channel_id is required"
    OFFER_REQUIRED = "offer is required"
    CANDIDATE_REQUIRED = "candidate is required"
    ANSWER_REQUIRED = "answer is required"
    CHANNEL_NOT_FOUND = "channel_id not found"
    OFFER_NOT_FOUND = "offer not found"
    ANSWER_NOT_FOUND = "answer not found"
    ANSWER_EXISTS = "answer already exist"
    OFFER_FAILED = "fail to create offer"
    CANDIDATE_FAILED = "fail to create candidate"
    ANSWER_FAILED = "fail to create answer"


class LambdaError(SignallingError):
    """Base class of the Lambda dialect's exceptions."""


class ChannelRefused(LambdaError):
    """An operation on a channel was refused; the client is told :attr:`refusal`."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.value)
        self.refusal = refusal


class ChannelRecord(msgspec.Struct, kw_only=True):
    """One channel as stored: JSON texts as bytes, and its monotonic expiry."""

    expires_at: float
    offer: bytes | None = None
    answer: bytes | None = None
    #: Both peers' candidates in arrival order, duplicates kept.
    candidates: list[bytes] = msgspec.field(default_factory=list)

    def size(self) -> int:
        """Bytes of client data the channel holds."""
        return (
            len(self.offer or b"")
            + len(self.answer or b"")
            + sum(len(candidate) for candidate in self.candidates)
        )


_encoder: Final = msgspec.msgpack.Encoder()
_decoder: Final = msgspec.msgpack.Decoder(ChannelRecord)


class LambdaRules:
    """The Lambda dialect's rules: channel operations, expiry timers and the channel count.

    Every operation runs inside one unit of work of the registry (an HTTP
    route calls it through ``node.run``); it checks everything before it
    writes, so a refused operation changes nothing.
    """

    name = DIALECT

    def __init__(self, registry: LobbyRegistry, limits: ChannelLimits | None = None) -> None:
        self._registry = registry
        self.limits = limits or ChannelLimits()

    # DialectRules: the dialect has no connections -----------------------------------

    def handlers(self) -> Mapping[type[Action], ActionHandler]:
        return {}

    def connected(self, conn: Connection) -> None:
        """Never called: no codec carries this dialect's name."""

    def disconnected(self, conn: Connection) -> bool:
        return False

    def member_lost(self, lobby: Lobby, role: Role, connection_id: ConnectionId) -> bool:
        """Lambda channels have no members with sockets."""
        return False

    def expire(self, key: str, sub: str, deadline: float) -> None:
        """A channel's expiry timer: delete it, unless it is a newer channel of the same id."""
        raw = self._registry.tx.record(RECORD_KIND, key)
        if raw is not None and _decoder.decode(raw).expires_at <= deadline:
            self._registry.tx.remove_record(RECORD_KIND, key)

    def room_count(self) -> int:
        return self._channel_count()

    # Operations ---------------------------------------------------------------------

    def create_channel(self) -> ChannelId:
        """A new empty channel with a fresh uuid4 id."""
        if self._channel_count() >= self.limits.max_channels:
            raise ChannelRefused(Refusal.TRY_AGAIN)
        channel_id = ChannelId(str(uuid.uuid4()))
        record = ChannelRecord(expires_at=self._schedule_expiry(channel_id))
        if not self._registry.tx.claim_record(RECORD_KIND, channel_id, _encoder.encode(record)):
            # A uuid4 seen before: the original's conditional put said the same.
            raise ChannelRefused(Refusal.TRY_AGAIN)
        return channel_id

    def put_offer(self, channel_id: str, offer: bytes) -> None:
        """Store (or replace) the offer; an unknown id makes a new channel."""

        def change(record: ChannelRecord) -> None:
            record.offer = offer

        self._update(channel_id, Refusal.OFFER_FAILED, change)

    def add_candidate(self, channel_id: str, candidate: bytes) -> None:
        """Append a candidate to the list both peers share; an unknown id makes a new channel."""

        def change(record: ChannelRecord) -> None:
            if len(record.candidates) >= self.limits.max_candidates:
                raise ChannelRefused(Refusal.CANDIDATE_FAILED)
            record.candidates.append(candidate)

        self._update(channel_id, Refusal.CANDIDATE_FAILED, change)

    def put_answer(self, channel_id: str, answer: bytes) -> None:
        """Store the answer if there is none yet; an unknown id makes a new channel."""

        def change(record: ChannelRecord) -> None:
            if record.answer is not None:
                raise ChannelRefused(Refusal.ANSWER_EXISTS)
            record.answer = answer

        self._update(channel_id, Refusal.ANSWER_FAILED, change)

    def offer(self, channel_id: str) -> bytes:
        """The offer's JSON text."""
        offer = self._existing(channel_id).offer
        if offer is None:
            raise ChannelRefused(Refusal.OFFER_NOT_FOUND)
        return offer

    def answer(self, channel_id: str) -> bytes:
        """The answer's JSON text."""
        answer = self._existing(channel_id).answer
        if answer is None:
            raise ChannelRefused(Refusal.ANSWER_NOT_FOUND)
        return answer

    def candidates(self, channel_id: str) -> list[bytes]:
        """Every candidate's JSON text, in arrival order."""
        return self._existing(channel_id).candidates

    # Inside -------------------------------------------------------------------------

    def _channel_count(self) -> int:
        return len(self._registry.backend.record_keys(RECORD_KIND))

    def _schedule_expiry(self, channel_id: str) -> float:
        return self._registry.schedule(self.limits.ttl_s, DIALECT, channel_id)

    def _usable(self, channel_id: str) -> bool:
        return 0 < len(channel_id) <= self.limits.max_channel_id_chars

    def _live(self, channel_id: str) -> ChannelRecord | None:
        """The channel, or ``None`` when there is none or it has expired (its timer may be late)."""
        if not self._usable(channel_id):
            return None
        raw = self._registry.tx.record(RECORD_KIND, channel_id)
        if raw is None:
            return None
        record = _decoder.decode(raw)
        if record.expires_at <= self._registry.clock.monotonic():
            return None
        return record

    def _existing(self, channel_id: str) -> ChannelRecord:
        record = self._live(channel_id)
        if record is None:
            raise ChannelRefused(Refusal.CHANNEL_NOT_FOUND)
        return record

    def _update(
        self, channel_id: str, failure: Refusal, change: Callable[[ChannelRecord], None]
    ) -> None:
        """Apply ``change`` to the channel (a new one if there is none) and store it."""
        if not self._usable(channel_id):
            raise ChannelRefused(failure)
        record = self._live(channel_id)
        created = record is None
        if record is None:
            # An expired record its timer has not deleted yet is replaced, not added.
            stored = self._registry.tx.record(RECORD_KIND, channel_id) is not None
            if not stored and self._channel_count() >= self.limits.max_channels:
                raise ChannelRefused(failure)
            record = ChannelRecord(expires_at=0.0)
        change(record)
        if record.size() > self.limits.max_channel_bytes:
            raise ChannelRefused(failure)
        if created:
            record.expires_at = self._schedule_expiry(channel_id)
        self._registry.tx.put_record(RECORD_KIND, channel_id, _encoder.encode(record))


__all__ = [
    "DIALECT",
    "RECORD_KIND",
    "ChannelId",
    "ChannelLimits",
    "ChannelRecord",
    "ChannelRefused",
    "LambdaError",
    "LambdaRules",
    "Refusal",
]
