"""The sentences Bellhop clients show when a lobby cannot be started or joined.

The first three are the original server's words (clients may match them); the
rest explain LobbyHost's limits in the same style.
"""

from __future__ import annotations

from .lobby_ids import MAX_LOBBY_ID_LENGTH


def lobby_exists(lobby_id: str) -> str:
    return f"Lobby {lobby_id} already exists."


def lobby_not_found(lobby_id: str) -> str:
    return f"Lobby '{lobby_id}' not found."


def no_host(lobby_id: str) -> str:
    return f"No host found for lobby '{lobby_id}'."


def lobby_id_too_long() -> str:
    return f"Lobby ids are at most {MAX_LOBBY_ID_LENGTH} characters."


def too_many_lobbies(limit: int) -> str:
    return f"Too many open lobbies from this address (at most {limit})."


def too_many_joins(limit: int) -> str:
    return f"Too many join attempts from this address (at most {limit} a minute); try again soon."


def lobby_locked(lobby_id: str) -> str:
    return f"Lobby '{lobby_id}' is not accepting players."


def lobby_full(lobby_id: str, seats: int) -> str:
    return f"Lobby '{lobby_id}' is full ({seats} players)."


def too_many_waiting(lobby_id: str) -> str:
    return f"Too many join requests are waiting for lobby '{lobby_id}'; try again later."


def host_did_not_answer(lobby_id: str) -> str:
    return f"The host of lobby '{lobby_id}' did not answer in time."


def rejected_by_host() -> str:
    return "The host rejected the join request."
