"""Lobby codes, connection ids and tokens."""

from __future__ import annotations

import pytest

from signalling_server.ids import (
    CODE_ALPHABET,
    new_connection_id,
    new_lobby_code,
    new_token,
    normalise_lobby_code,
    secrets_match,
    split_token,
)


def test_codes_are_six_crockford_characters() -> None:
    """New codes use only the 32-character alphabet without I, L, O, U."""
    assert set(CODE_ALPHABET).isdisjoint("ILOU") and len(CODE_ALPHABET) == 32
    codes = {new_lobby_code() for _ in range(2000)}
    assert all(len(c) == 6 and set(c) <= set(CODE_ALPHABET) for c in codes)
    assert len(codes) > 1990  # drawn at random, not from a sequence


@pytest.mark.parametrize(
    ("typed", "code"),
    [("abc123", "ABC123"), ("ABC-123", "ABC123"), (" ab c1 23 ", "ABC123"), ("IoL0Oi", "101001")],
)
def test_codes_are_normalised_as_crockford_prescribes(typed: str, code: str) -> None:
    """Case, spaces and dashes do not matter, and I/L read as 1, O as 0."""
    assert normalise_lobby_code(typed) == code


@pytest.mark.parametrize("typed", ["", "ABC12", "ABC1234", "UUUUUU", "AB$123", "ÄBC123"])
def test_non_codes_are_refused(typed: str) -> None:
    """Wrong length or characters outside the alphabet are not codes."""
    assert normalise_lobby_code(typed) is None


def test_connection_ids_are_unguessable_and_unique() -> None:
    """Connection ids carry 96 random bits and never repeat."""
    ids = {new_connection_id() for _ in range(10_000)}
    assert len(ids) == 10_000
    assert all(len(i) == 16 for i in ids)


def test_tokens_split_and_compare() -> None:
    """A token is id.secret with a secret of at least 128 bits; secrets compare exactly."""
    token, token_id, secret = new_token()
    assert split_token(token) == (token_id, secret)
    assert len(secret) * 6 >= 128
    assert secrets_match(secret, secret)
    assert not secrets_match(secret, secret[:-1] + ("A" if secret[-1] != "A" else "B"))
    assert split_token("no-dot") is None
