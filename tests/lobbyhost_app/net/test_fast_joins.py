"""Many guests joining an auto-accepting host at once all end up connected, none left "waiting"."""

from __future__ import annotations

import asyncio

from lobbyhost_app.net.guest import GuestSession
from lobbyhost_app.net.host import HostSession
from lobbyhost_app.net.signalling import SignallingClient
from lobbyhost_app.session_values import GuestEvent, GuestPhase, GuestStatus
from signalling_server import Limits, ServerConfig, serve

from ..loopback import LOOPBACK
from .recorder import Recorder

GUESTS = 12


async def test_twelve_fast_joins_to_an_auto_accepting_host_all_connect() -> None:
    """12 guests joining at once: each is accepted, connects, and never falls back to waiting."""
    limits = Limits(password_hash_iterations=1, default_max_guests=GUESTS)
    async with serve(ServerConfig(port=0, limits=limits)) as server:
        host_signalling = SignallingClient(server.url)
        await host_signalling.connect()
        host = HostSession(host_signalling, LOOPBACK, auto_accept=True)
        opened = await host.start(display_name="Ann")
        guests: list[tuple[GuestSession, Recorder[GuestEvent]]] = []
        for _ in range(GUESTS):
            signalling = SignallingClient(server.url)
            await signalling.connect()
            guest = GuestSession(signalling, LOOPBACK)
            events: Recorder[GuestEvent] = Recorder()
            guest.add_listener(events)
            guests.append((guest, events))
        try:
            await asyncio.gather(
                *(g.join(opened.lobby_id, f"guest {n}") for n, (g, _) in enumerate(guests))
            )
            for _, events in guests:
                await events.wait_for(
                    lambda e: isinstance(e, GuestStatus) and e.phase is GuestPhase.CONNECTED,
                    within=30,
                )
                phases = [e.phase for e in events.events if isinstance(e, GuestStatus)]
                seen_connecting = phases.index(GuestPhase.CONNECTING)
                assert GuestPhase.WAITING not in phases[seen_connecting:], phases
        finally:
            for guest, _ in guests:
                await guest.leave()
            await host.close()
