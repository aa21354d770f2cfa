"""Guests in another home connect to the host across NAT: directly, through TURN, through a public server.

One lab for the module (tests/natlab/conftest.py): the host's router maps
ports (miniupnpd), coturn runs in the cloud. The programs are the real ones:
``lobbyhost --headless`` and ``lobbyhost-guest`` as processes inside the lab's
machines, or the app's hosting service in this process, moved into the host's
network.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

from lobbyhost_app.net.hosting import HostingOptions, HostingService
from lobbyhost_app.net.ice import IceSettings, address_allow_list
from lobbyhost_app.session_values import HostEvent, LinkState, PeerUpdated
from tests.timeouts import scaled

from .cli import START_TIMEOUT, guest, headless_host
from .lab import Lab, NatKind
from .processes import TurnServer

#: A handshake across NAT, TURN and the relay delay included.
CONNECT_S = scaled(30.0)
START_S = scaled(START_TIMEOUT)
PORT = 8765


def ice_arguments(turn: TurnServer) -> list[str]:
    """STUN and TURN (fresh REST credentials) as ``--ice-server`` options."""
    return ["--ice-server", turn.stun_url, "--ice-server", turn.turn_argument()]


def turn_of(lab: Lab) -> TurnServer:
    assert lab.turn is not None
    return lab.turn


@contextlib.contextmanager
def nat_of(lab: Lab, nat: NatKind) -> Iterator[None]:
    """The guest's router translates as ``nat`` for the block, then as before."""
    before = lab.guest_router.nat
    lab.set_nat(lab.guest_router, nat)
    try:
        yield
    finally:
        lab.set_nat(lab.guest_router, before)


async def test_cone_to_cone_is_direct_through_the_mapped_port_and_quitting_unmaps_it(
    cone_lab: Lab,
) -> None:
    """The headless host maps its port and prints an invite link with the router's address; a guest in the other home joins by that link and connects directly (srflx) though TURN is offered; quitting removes the mapping."""
    ice = ice_arguments(turn_of(cone_lab))
    router = cone_lab.host_router
    async with headless_host(
        cone_lab.host, "--listen", f"0.0.0.0:{PORT}", "--map-port", *ice
    ) as host:
        started = await host.expect("lobby_started", START_S)
        mapping = await host.expect("port_mapping", START_S, status="opened")
        assert (mapping["external_address"], mapping["external_port"]) == (router.wan_address, PORT)
        assert mapping["message"] == f"Port {PORT} opened on your router"
        invite = await host.expect("invite", START_S, source="router")
        code = started["lobby_id"]
        assert invite["link"] == f"http://{router.wan_address}:{PORT}/join/{code}"
        assert invite["reach"] == "internet"
        async with guest(cone_lab.guest, invite["link"], None, *ice, name="Bob") as bob:
            await bob.expect("status", CONNECT_S, phase="connected")
            connected = await host.expect("peer_connected", CONNECT_S, name="Bob")
            assert connected["route"] == "srflx"
        assert ("TCP", PORT) in cone_lab.forwarded_ports(router)
        assert await host.stop() == 0
    assert ("TCP", PORT) not in cone_lab.forwarded_ports(router)


async def test_symmetric_nat_connects_through_the_turn_relay(cone_lab: Lab) -> None:
    """A guest behind a symmetric NAT cannot be reached directly, and connects through coturn (route relay)."""
    ice = ice_arguments(turn_of(cone_lab))
    router = cone_lab.host_router
    with nat_of(cone_lab, NatKind.SYMMETRIC):
        async with headless_host(
            cone_lab.host, "--listen", f"0.0.0.0:{PORT}", "--map-port", *ice
        ) as host:
            started = await host.expect("lobby_started", START_S)
            await host.expect("port_mapping", START_S, status="opened")
            url = f"ws://{router.wan_address}:{PORT}/"
            async with guest(cone_lab.guest, url, started["lobby_id"], *ice, name="Sym") as sym:
                await sym.expect("status", CONNECT_S, phase="connected")
                connected = await host.expect("peer_connected", CONNECT_S, name="Sym")
                assert connected["route"] == "relay"
            await host.stop()


async def test_public_server_mode_needs_no_port_forwarding(cone_lab: Lab) -> None:
    """With a server in the cloud (handing out STUN and TURN REST credentials) and no port mapped, a guest joins and connects directly."""
    url = cone_lab.start_signalling_server(turn_of(cone_lab), port=8443)
    host_ice = IceSettings(allowed_addresses=(cone_lab.host.address,))
    connected: asyncio.Future[PeerUpdated] = asyncio.get_running_loop().create_future()

    def on_event(event: HostEvent) -> None:
        if (
            isinstance(event, PeerUpdated)
            and event.stats.state is LinkState.CONNECTED
            and not connected.done()
        ):
            connected.set_result(event)

    with cone_lab.inside(cone_lab.host), address_allow_list(host_ice.allowed_addresses):
        hosting = HostingService(HostingOptions(remote_url=url, ice=host_ice, auto_accept=True))
        hosting.add_listener(on_event)
        await hosting.start()
        try:
            opened = await hosting.open_lobby(display_name="Ann")
            assert hosting.port_mapping is None  # a remote server: nothing to forward
            async with guest(cone_lab.guest, url, opened.lobby_id, name="Cid") as cid:
                await cid.expect("status", CONNECT_S, phase="connected")
                async with asyncio.timeout(CONNECT_S):
                    peer = await connected
                assert peer.name == "Cid"
                assert peer.stats.route == "srflx"
        finally:
            await hosting.stop()
    assert cone_lab.forwarded_ports(cone_lab.host_router) == set()


async def test_homes_far_apart_still_connect_directly_with_the_relay_near(cone_lab: Lab) -> None:
    """With a slow path between the homes and TURN near both, every session still takes the direct route (relayed checks wait)."""
    ice = ice_arguments(turn_of(cone_lab))
    router = cone_lab.host_router
    with cone_lab.slow_path_between_homes():
        async with headless_host(
            cone_lab.host, "--listen", f"0.0.0.0:{PORT}", "--map-port", *ice
        ) as host:
            started = await host.expect("lobby_started", START_S)
            await host.expect("port_mapping", START_S, status="opened")
            url = f"ws://{router.wan_address}:{PORT}/"
            for number in range(3):
                name = f"Far{number}"
                async with guest(cone_lab.guest, url, started["lobby_id"], *ice, name=name) as g:
                    await g.expect("status", CONNECT_S, phase="connected")
                    connected = await host.expect("peer_connected", CONNECT_S, name=name)
                    assert connected["route"] == "srflx", connected
            await host.stop()
