"""The codec seam: how one connection's frames become actions and events become frames.

A transport picks a codec per connection (the native one at ``/``; the older
systems' dialects at their own paths) and hands it to the node with the
connection. Codecs are sans-I/O and stateless per frame.
"""

from __future__ import annotations

from typing import Protocol

from .protocol.events import Event
from .protocol.native import Decoded


class Codec(Protocol):
    """Turns one connection's frames into actions, and events into its frames."""

    @property
    def name(self) -> str:
        """A short name for logs and metrics (``native``, ``bellhop`` ...)."""
        ...

    def decode(self, frame: str | bytes) -> Decoded:
        """One frame (``bytes`` for a binary frame); raises ``FrameError`` when unusable."""
        ...

    def encode(self, event: Event, ref: str | None = None) -> bytes | None:
        """The text frame (UTF-8) that carries ``event`` to this connection's client.

        ``None``: the client's protocol has nothing to say for this event.
        """
        ...
