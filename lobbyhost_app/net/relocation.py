"""A planned hand-over when the host's server is embedded in its app (and dies with it).

The host asks a guest (the successor) to host the lobby on the successor's own
embedded server; the successor opens it there with the same code, keeping a
seat (and its peer id) for every other guest, and answers with the address and
the seats' tokens; the host sends ``move_lobby``, so every guest is told the
new address and its token and moves on its own
(:class:`~lobbyhost_app.net.guest.GuestSession` does), and the old server can
stop. The messages are in :mod:`.relocation_messages`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import replace
from urllib.parse import urlsplit

from signalling_server.protocol import (
    LobbyClosed,
    MoveLobby,
    ReceivedMessage,
    SeatRequest,
    SendMessage,
)

from ..invite import host_port, is_wildcard, lan_address
from ..session_values import LobbyHandedOver
from .errors import NetError
from .guest import GuestSession
from .host import HostSession
from .hosting import HostingOptions, HostingService
from .ice import local_addresses
from .relocation_messages import (
    MAX_RELAYED_SNAPSHOT,
    HostReady,
    HostRequest,
    MovingGuest,
    SeatToken,
    encode,
    read_host_ready,
)
from .signalling_api import SignallingEvent, expect_reply

logger = logging.getLogger(__name__)


async def move_to_successor(
    host: HostSession,
    successor: str,
    *,
    lobby_name: str,
    max_guests: int,
    answer_within: float = 10.0,
) -> LobbyHandedOver:
    """Move the lobby to the server of the guest ``successor`` (a connection id) and leave it.

    Raises :class:`NetError` when the successor does not answer in time (it
    may be a browser, which cannot host) and :class:`ServerError` when the
    server refuses; the lobby then stays here.
    """
    roster = host.roster()
    names = {connection_id: (name, peer_id) for connection_id, name, peer_id in roster}
    if successor not in names:
        raise NetError("that guest is not connected")
    moving = [MovingGuest(name, peer_id) for cid, name, peer_id in roster if cid != successor]
    snapshot, seq = None, 0
    if host.snapshot_seq:
        loaded = await host.load_snapshot()
        if loaded is not None and len(loaded.data) <= MAX_RELAYED_SNAPSHOT:
            snapshot, seq = loaded.data, loaded.seq
        elif loaded is not None:
            logger.warning("the snapshot (%d bytes) is too large to move along", loaded.size)
    assert host.lobby_id is not None
    request = HostRequest(host.lobby_id, lobby_name, max_guests, moving, snapshot, seq)
    ready = await _ask(host, successor, request, answer_within)
    peer_ids = {peer_id: cid for cid, _, peer_id in roster}
    seats = {peer_ids[seat.peer_id]: seat.token for seat in ready.seats if seat.peer_id in peer_ids}
    action = MoveLobby(url=ready.url, seats=seats)
    expect_reply(await host.signalling.request(action), LobbyClosed, action)
    name, peer_id = names[successor]
    return await host.handed_over(name, peer_id)


async def _ask(
    host: HostSession, successor: str, request: HostRequest, answer_within: float
) -> HostReady:
    answered: asyncio.Future[HostReady] = asyncio.get_running_loop().create_future()

    def listen(event: SignallingEvent) -> None:
        if isinstance(event, ReceivedMessage) and event.connection_id == successor:
            ready = read_host_ready(event.data)
            if ready is not None and not answered.done():
                answered.set_result(ready)

    host.signalling.add_listener(listen)
    try:
        await host.signalling.send(SendMessage(connection_id=successor, data=encode(request)))
        async with asyncio.timeout(answer_within):
            return await answered
    except TimeoutError:
        raise NetError("the guest did not take the lobby over in time") from None
    finally:
        host.signalling.remove_listener(listen)


def page_origin(server_url: str) -> str | None:
    """The web origin of the pages a signalling server at ``server_url`` serves."""
    parts = urlsplit(server_url)
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme)
    if scheme is None or not parts.netloc:
        return None
    return f"{scheme}://{parts.netloc.rpartition('@')[2]}"


async def host_moved_lobby(
    guest: GuestSession,
    request: HostRequest,
    options: HostingOptions,
    *,
    attach: Callable[[HostingService], None] | None = None,
) -> HostingService:
    """Successor side: open the lobby on this app's own embedded server, and tell the host.

    The guest session ends (phase ``PROMOTED``); the returned service's session
    hosts the lobby and offers to each guest as it arrives. What was started
    is stopped again if anything fails. ``attach`` gets the service before it
    starts (to add listeners that hear the lobby open).
    """
    if options.remote_url is not None:
        raise NetError("a moved lobby opens on this app's own embedded server")
    # Browser guests arrive with the page the old server served: its origin is let in.
    origin = page_origin(guest.signalling.url)
    if origin is not None:
        options = replace(options, allowed_origins=(*options.allowed_origins, origin))
    hosting = HostingService(options)
    if attach is not None:
        attach(hosting)
    try:
        await hosting.start()
        session = hosting.session
        await hosting.open_lobby(
            lobby_id=request.lobby_id,
            name=request.name,
            max_guests=request.max_guests,
            display_name=guest.name,
            migratable=True,
            peer_id=guest.peer_id,
            seats=[SeatRequest(name=g.name, peer_id=g.peer_id) for g in request.guests],
        )
        if request.snapshot is not None:
            await session.save_snapshot(request.snapshot, request.snapshot_seq or None)
        server = hosting.server
        assert server is not None  # embedded: checked above
        url = f"ws://{host_port(_reachable_host(options.listen_host), server.port)}/"
        ready = HostReady(
            url, [SeatToken(seat.peer_id, seat.token) for seat in session.seat_tokens]
        )
        host_id = guest.host_connection_id
        if host_id is None:
            raise NetError("this guest has no host to answer")
        guest.hosts_elsewhere()  # before the old lobby closes under it
        await guest.signalling.send(SendMessage(connection_id=host_id, data=encode(ready)))
        await guest.signalling.close()
    except BaseException:
        await hosting.stop(close_lobby=True)
        raise
    return hosting


def _reachable_host(listen_host: str) -> str:
    """The address other guests reach this server at: a LAN one when it listens everywhere."""
    return lan_address(local_addresses()) if is_wildcard(listen_host) else listen_host
