"""Where lobbies live: the :class:`StateBackend` seam and its implementations."""

from .base import StateBackend, TokenGrant
from .memory import MemoryBackend

__all__ = ["MemoryBackend", "StateBackend", "TokenGrant"]
