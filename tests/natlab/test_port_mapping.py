"""Automatic port mapping against Debian's miniupnpd on the lab's home routers, by UPnP and NAT-PMP.

The app's :class:`PortMapper` runs in this process, moved into a lab machine's
network (``Lab.inside``): what it asks, the router really does, and the
router's iptables rules are read back to see it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

from lobbyhost_app.net.port_mapping import (
    PortMapper,
    PortMappingOptions,
    PortMappingState,
    PortMappingStatus,
)
from tests.timeouts import scaled

from .lab import Lab, Router

PORT = 28765
SETTLE_S = scaled(15.0)


async def next_state(mapper: PortMapper, accept: object) -> PortMappingState:
    """Until the mapper reports a state for which ``accept(state)`` is true."""
    seen: asyncio.Future[PortMappingState] = asyncio.get_running_loop().create_future()

    def on_state(state: PortMappingState) -> None:
        if accept(state) and not seen.done():  # type: ignore[operator]
            seen.set_result(state)

    mapper.add_listener(on_state)
    async with asyncio.timeout(SETTLE_S):
        return await seen


async def test_mapping_is_opened_renewed_and_removed_on_close(cone_lab: Lab) -> None:
    """The router forwards the port with its WAN address, keeps it past the lease while renewed, and drops it on close."""
    with cone_lab.inside(cone_lab.host):
        mapper = PortMapper(PORT, options=PortMappingOptions(discover_timeout_s=1.0, lease_s=2))
        mapper.start()
        try:
            opened = await mapper.wait_settled()
            assert opened.status is PortMappingStatus.OPENED, opened
            assert opened.external_endpoint == (cone_lab.host_router.wan_address, PORT)
            assert opened.message == f"Port {PORT} opened on your router"
            assert ("TCP", PORT) in cone_lab.forwarded_ports(cone_lab.host_router)
            # Renewed every second: after three renewals the first 2 s lease is long over.
            await next_state(mapper, lambda state: state.renewals >= 3)
            assert ("TCP", PORT) in cone_lab.forwarded_ports(cone_lab.host_router)
        finally:
            await mapper.close()
        assert mapper.state.status is PortMappingStatus.REMOVED
        assert ("TCP", PORT) not in cone_lab.forwarded_ports(cone_lab.host_router)


async def test_router_that_refuses_gives_its_reason_and_the_fallback_message(
    cone_lab: Lab,
) -> None:
    """A router that refuses (reserved WAN address) yields REFUSED with its words and 'forward TCP N by hand'."""
    with cone_lab.inside(cone_lab.guest):
        mapper = PortMapper(PORT, options=PortMappingOptions(discover_timeout_s=1.0))
        mapper.start()
        try:
            refused = await mapper.wait_settled()
        finally:
            await mapper.close()
    assert refused.status is PortMappingStatus.REFUSED, refused
    assert refused.reason  # miniupnpc's words for UPnP error 501: "Action Failed"
    assert refused.message == (
        f"Router refused: forward TCP {PORT} by hand, or use a public server"
    )
    assert refused.external_endpoint is None
    assert cone_lab.forwarded_ports(cone_lab.guest_router) == set()


@contextlib.contextmanager
def nat_pmp_only(lab: Lab, router: Router) -> Iterator[None]:
    """``router``'s miniupnpd speaks NAT-PMP only for the block (like Apple's routers)."""
    lab.start_port_mapper(router, upnp=False)
    try:
        yield
    finally:
        lab.start_port_mapper(router)


async def test_a_router_without_upnp_maps_the_port_through_nat_pmp(cone_lab: Lab) -> None:
    """When no UPnP device answers, the gateway is asked with NAT-PMP: the port is forwarded, then removed on close."""
    router = cone_lab.host_router
    with nat_pmp_only(cone_lab, router), cone_lab.inside(cone_lab.host):
        mapper = PortMapper(PORT, options=PortMappingOptions(discover_timeout_s=1.0))
        mapper.start()
        try:
            opened = await mapper.wait_settled()
            assert opened.status is PortMappingStatus.OPENED, opened
            assert opened.external_endpoint == (router.wan_address, PORT)
            assert ("TCP", PORT) in cone_lab.forwarded_ports(router)
        finally:
            await mapper.close()
        assert mapper.state.status is PortMappingStatus.REMOVED
        assert ("TCP", PORT) not in cone_lab.forwarded_ports(router)


async def test_a_nat_pmp_router_that_refuses_says_why(cone_lab: Lab) -> None:
    """A NAT-PMP router without a usable public address answers Network Failure: REFUSED with those words."""
    with nat_pmp_only(cone_lab, cone_lab.guest_router), cone_lab.inside(cone_lab.guest):
        mapper = PortMapper(PORT, options=PortMappingOptions(discover_timeout_s=1.0))
        mapper.start()
        try:
            refused = await mapper.wait_settled()
        finally:
            await mapper.close()
    assert refused.status is PortMappingStatus.REFUSED, refused
    assert refused.reason is not None and refused.reason.startswith("Network Failure")
    assert refused.message == f"Router refused: forward TCP {PORT} by hand, or use a public server"
