"""Lobby records as bytes: how a backend that stores copies writes and reads a lobby."""

from __future__ import annotations

from typing import Final

import msgspec

from ..lobby import Lobby

_encoder: Final = msgspec.msgpack.Encoder()
_decoder: Final = msgspec.msgpack.Decoder(Lobby)


def encode_lobby(lobby: Lobby) -> bytes:
    """The lobby's whole record (members, requests, the host's backlog of events)."""
    return _encoder.encode(lobby)


def decode_lobby(record: bytes) -> Lobby:
    """A fresh :class:`Lobby` from :func:`encode_lobby`'s bytes."""
    return _decoder.decode(record)
