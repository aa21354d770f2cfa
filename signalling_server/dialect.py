"""The dialect seam: how an older system's protocol plugs into the registry.

A dialect is a codec (its frames, at the edge) and a :class:`DialectRules`
object (its rules, in the sans-I/O core). The registry routes a connection to
its dialect by the codec's ``name`` (and a lobby by its policy's name):
actions the dialect's codec decodes into its own action types go to the
dialect's handlers; actions it decodes into protocol v1's types go to the
native rules. The dialect also hears its connections open and close (and its
lobbies' members lost with a node that died), and fires its own timers.

Dialect rules read and write state through the registry's unit of work
(``registry.tx``: lobby records, and byte records of their own kinds for
state that is not a lobby), queue events with ``registry.send``, and plan
timers with ``registry.schedule(when, dialect_name, key, sub)``. Every timer a
dialect plans is multiplied by ``registry.dialect_time_scale``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from .protocol.actions import Action

if TYPE_CHECKING:
    from .ids import ConnectionId
    from .lobby import Connection, Lobby, Role

#: Applies one action of a connection: ``handler(connection, action, ref)``.
ActionHandler = Callable[["Connection", Any, str | None], None]


class DialectRules(Protocol):
    """The rules of one dialect, bound to one registry."""

    @property
    def name(self) -> str:
        """The dialect's name; its codecs carry the same ``name``."""
        ...

    def handlers(self) -> Mapping[type[Action], ActionHandler]:
        """The handler of each of the dialect's own action types."""
        ...

    def connected(self, conn: Connection) -> None:
        """A connection of this dialect opened (a greeting may be sent)."""
        ...

    def disconnected(self, conn: Connection) -> bool:
        """A connection of this dialect closed; ``False`` leaves it to the native rules."""
        ...

    def member_lost(self, lobby: Lobby, role: Role, connection_id: ConnectionId) -> bool:
        """A member of one of this dialect's lobbies was on a node that died.

        ``False`` leaves it to the native rules (as :meth:`disconnected` does).
        """
        ...

    def expire(self, key: str, sub: str, deadline: float) -> None:
        """A timer this dialect planned is due."""
        ...

    def room_count(self) -> int:
        """Rooms (or channels) kept outside lobby records, for health and metrics."""
        ...
