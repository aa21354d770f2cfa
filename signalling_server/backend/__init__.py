"""Where lobbies live: the :class:`StateBackend` seam and its implementations."""

from .base import BackendUnavailable, LobbyConflict, StateBackend, TokenGrant
from .memory import MemoryBackend

__all__ = ["BackendUnavailable", "LobbyConflict", "MemoryBackend", "StateBackend", "TokenGrant"]
