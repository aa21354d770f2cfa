"""Port mapping without a router: the state values, and what happens when nobody answers.

The lab tests (tests/natlab/test_port_mapping.py) run the same mapper against
real routers; here the test session's network has nothing but loopback.
"""

from __future__ import annotations

import asyncio

import pytest

from lobbyhost_app.net.hosting import HostingOptions, HostingService
from lobbyhost_app.net.port_mapping import (
    PortMapper,
    PortMappingOptions,
    PortMappingState,
    PortMappingStatus,
)
from tests.timeouts import scaled

from ..loopback import LOOPBACK


def test_states_say_what_the_host_should_do() -> None:
    """Each state reads as one sentence, and only an open mapping gives an address for the invite link."""
    opened = PortMappingState(
        status=PortMappingStatus.OPENED,
        port=8765,
        external_address="198.51.100.7",
        external_port=8765,
        lease_s=3600,
    )
    assert opened.message == "Port 8765 opened on your router"
    assert opened.external_endpoint == ("198.51.100.7", 8765)
    moved = PortMappingState(
        status=PortMappingStatus.OPENED, port=8765, external_address="198.51.100.7",
        external_port=40000,
    )  # fmt: skip
    assert moved.message == "Port 8765 opened on your router (guests outside use port 40000)"
    assert moved.external_endpoint == ("198.51.100.7", 40000)
    refused = PortMappingState(status=PortMappingStatus.REFUSED, port=8765, reason="Action Failed")
    assert refused.message == "Router refused: forward TCP 8765 by hand, or use a public server"
    assert refused.external_endpoint is None
    assert refused.as_fields() == {
        "status": "refused",
        "port": 8765,
        "protocol": "TCP",
        "message": refused.message,
        "reason": "Action Failed",
    }
    none = PortMappingState(status=PortMappingStatus.NO_ROUTER, port=8765)
    assert none.message == "No router answered: forward TCP 8765 by hand, or use a public server"


def test_options_refuse_a_lease_too_short_to_renew() -> None:
    """A lease under 2 s or a timeout of zero is a ValueError, not a mapper that spins."""
    with pytest.raises(ValueError, match="lease"):
        PortMappingOptions(lease_s=1)
    with pytest.raises(ValueError, match="timeouts"):
        PortMappingOptions(discover_timeout_s=0)


async def test_no_router_on_the_network_is_reported_as_such() -> None:
    """With no router to answer UPnP discovery, the state is NO_ROUTER with the fallback sentence."""
    mapper = PortMapper(8765, options=PortMappingOptions(discover_timeout_s=0.2))
    mapper.start()
    try:
        state = await mapper.wait_settled()
    finally:
        await mapper.close()
    assert state.status is PortMappingStatus.NO_ROUTER
    assert state.reason
    assert state.message.startswith("No router answered: forward TCP 8765 by hand")


async def test_hosting_maps_nothing_for_a_server_on_loopback() -> None:
    """A server listening on 127.0.0.1 asks no router for anything: nobody outside could use it."""
    hosting = HostingService(
        HostingOptions(
            listen_host="127.0.0.1",
            listen_port=0,
            ice=LOOPBACK,
            port_mapping=PortMappingOptions(discover_timeout_s=scaled(0.2)),
        )
    )
    await hosting.start()
    try:
        await hosting.open_lobby()
        assert hosting.port_mapping is None
    finally:
        await hosting.stop()


async def test_hosting_reports_the_mapping_from_lobby_open_and_stops_it() -> None:
    """On 0.0.0.0 opening the lobby starts the mapping (here: no router answers) and stopping ends it."""
    settled: asyncio.Future[PortMappingState] = asyncio.get_running_loop().create_future()

    def on_state(state: PortMappingState) -> None:
        if state.status is not PortMappingStatus.SEARCHING and not settled.done():
            settled.set_result(state)

    hosting = HostingService(
        HostingOptions(
            listen_host="0.0.0.0",
            listen_port=0,
            ice=LOOPBACK,
            port_mapping=PortMappingOptions(discover_timeout_s=0.2),
        )
    )
    hosting.add_port_mapping_listener(on_state)
    await hosting.start()
    try:
        await hosting.open_lobby()
        assert hosting.server is not None
        async with asyncio.timeout(scaled(10)):
            state = await settled
        assert state.status is PortMappingStatus.NO_ROUTER
        assert state.port == hosting.server.port
        assert hosting.port_mapping == state
    finally:
        await hosting.stop()
    assert hosting.port_mapping is None
