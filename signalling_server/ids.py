"""Identifiers: lobby codes, connection ids and resume tokens.

Lobby codes are 6 characters of Crockford base32 (no I, L, O, U) drawn from a
CSPRNG; user input is normalised the way Crockford prescribes, so a code read
aloud or typed sloppily still matches.
"""

from __future__ import annotations

import hmac
import secrets
from typing import NewType

LobbyId = NewType("LobbyId", str)
ConnectionId = NewType("ConnectionId", str)

CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 6
_CODE_CHARS = frozenset(CODE_ALPHABET)
# Upper-case, drop separators, and read the look-alike letters as digits.
_NORMALISE = str.maketrans({"I": "1", "L": "1", "O": "0", " ": None, "-": None})


def new_lobby_code() -> LobbyId:
    """A fresh random lobby code (about 1.07e9 possibilities)."""
    return LobbyId("".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH)))


def normalise_lobby_code(text: str) -> LobbyId | None:
    """The canonical form of a typed code, or ``None`` if it cannot be a code."""
    code = text.upper().translate(_NORMALISE)
    if len(code) != CODE_LENGTH or not _CODE_CHARS.issuperset(code):
        return None
    return LobbyId(code)


def new_connection_id() -> ConnectionId:
    """An unguessable id (96 random bits) for one websocket connection."""
    return ConnectionId(secrets.token_urlsafe(12))


def new_token() -> tuple[str, str, str]:
    """A resume token as ``(token, token_id, secret)``.

    The token is ``<id>.<secret>``: the id is looked up in a dict, the secret
    (144 random bits) is then compared in constant time, so a lookup never leaks
    how much of a guessed secret was right.
    """
    token_id = secrets.token_urlsafe(9)
    secret = secrets.token_urlsafe(18)
    return f"{token_id}.{secret}", token_id, secret


def split_token(token: str) -> tuple[str, str] | None:
    """``(token_id, secret)`` of a presented token, or ``None`` if malformed."""
    token_id, dot, secret = token.partition(".")
    if not dot or not token_id or not secret:
        return None
    return token_id, secret


def secrets_match(presented: str, stored: str) -> bool:
    """Compare two secrets in constant time."""
    return hmac.compare_digest(presented.encode(), stored.encode())
