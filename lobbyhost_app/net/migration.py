"""Taking the host role over: a promoted guest's signalling connection becomes a host session's.

When the server promotes a guest (``promoted``), the guest's
:class:`~lobbyhost_app.net.guest.GuestSession` ends in the ``PROMOTED`` phase
and calls its ``on_promoted`` callback at once, inside the event's delivery.
:func:`take_over` is what that callback does: a
:class:`~lobbyhost_app.net.host.HostSession` on the same signalling connection
(the server already treats it as the host), listened to before it reports
anything, that offers to every guest, lists the waiting join requests and
hands over the snapshot. The desktop app's controller, the guest CLI and the
tests all take over this way.
"""

from __future__ import annotations

from collections.abc import Callable

from signalling_server.protocol import Promoted

from .guest import GuestSession
from .host import HostSession


def take_over(
    guest: GuestSession,
    promoted: Promoted,
    *,
    attach: Callable[[HostSession], None] | None = None,
    auto_accept: bool = False,
    ping_interval: float = 2.0,
    guest_grace: float = 30.0,
) -> HostSession:
    """The host session that carries on ``guest``'s lobby after its promotion.

    ``attach`` gets the session before it reports anything (to add listeners).
    """
    session = HostSession(
        guest.signalling,
        guest.ice,
        auto_accept=auto_accept,
        ping_interval=ping_interval,
        guest_grace=guest_grace,
    )
    if attach is not None:
        attach(session)
    session.adopt(promoted, host_name=guest.name)
    return session
