"""Where lobbies live: the :class:`StateBackend` seam and its implementations."""

from .base import BackendUnavailable, Changes, LobbyConflict, StateBackend, TokenGrant
from .memory import MemoryBackend

__all__ = [
    "BackendUnavailable",
    "Changes",
    "LobbyConflict",
    "MemoryBackend",
    "StateBackend",
    "TokenGrant",
]
