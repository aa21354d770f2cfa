"""Automatic port mapping: ask the home router (UPnP-IGD, NAT-PMP) to forward the server's port.

A :class:`PortMapper` finds the router on the local network, asks it to forward
one TCP port to this machine, renews the lease while it runs, and removes the
mapping on :meth:`PortMapper.close`. What happened is a value,
:class:`PortMappingState` (opened with the router's external address and port,
refused with the router's own reason, or no router found), handed to listeners
each time it changes: the host window shows it as a status line, the headless
host prints it as a JSON line, and the invite-address chooser reads the
router's external address from it.

The router is found by UPnP discovery (:mod:`.upnp`, through miniupnpc), or,
when no UPnP device answers, asked with NAT-PMP at the default gateway
(:mod:`.nat_pmp`); both implement :class:`Router`, the seam the mapper uses.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol

from .errors import NetError

logger = logging.getLogger(__name__)

PortMappingListener = Callable[["PortMappingState"], None]

#: A router's error for an IGDv1 router that takes only mappings without a lease (UPnP 725).
PERMANENT_ONLY = "OnlyPermanentLeasesSupported"


class PortMappingError(NetError):
    """A port mapping could not be made."""


class NoRouterFound(PortMappingError):
    """No router on the local network answered UPnP discovery."""


class RouterRefused(PortMappingError):
    """The router answered but refused the mapping; the message is the router's reason."""


class PortMappingStatus(enum.Enum):
    """Where a port mapping stands."""

    SEARCHING = "searching"
    OPENED = "opened"
    REFUSED = "refused"
    NO_ROUTER = "no_router"
    REMOVED = "removed"


@dataclass(frozen=True, slots=True, kw_only=True)
class PortMappingState:
    """One port mapping as the router last answered about it."""

    status: PortMappingStatus
    #: This machine's port (the embedded server's).
    port: int
    protocol: str = "TCP"
    #: The router's address on the internet side (its own view: behind another
    #: NAT this is not the public address), once the mapping is open.
    external_address: str | None = None
    external_port: int | None = None
    #: The router's own words when it refused, or why no router was found.
    reason: str | None = None
    #: Seconds the router keeps the mapping unless renewed (0: until removed).
    lease_s: int | None = None
    #: How many times the lease was renewed.
    renewals: int = 0

    @property
    def message(self) -> str:
        """One sentence for the host."""
        port, protocol = self.port, self.protocol
        match self.status:
            case PortMappingStatus.SEARCHING:
                return f"Asking your router to open port {port}…"
            case PortMappingStatus.OPENED if self.external_port not in (None, port):
                return (
                    f"Port {port} opened on your router "
                    f"(guests outside use port {self.external_port})"
                )
            case PortMappingStatus.OPENED:
                return f"Port {port} opened on your router"
            case PortMappingStatus.REFUSED:
                return f"Router refused: forward {protocol} {port} by hand, or use a public server"
            case PortMappingStatus.NO_ROUTER:
                return (
                    f"No router answered: forward {protocol} {port} by hand, or use a public server"
                )
            case PortMappingStatus.REMOVED:
                return f"Port {port} closed on your router"

    @property
    def external_endpoint(self) -> tuple[str, int] | None:
        """Where guests outside reach the port, while the mapping is open."""
        if self.status is not PortMappingStatus.OPENED or self.external_address is None:
            return None
        return self.external_address, self.external_port or self.port

    def as_fields(self) -> dict[str, Any]:
        """The state as JSON-ready fields (the headless host's ``port_mapping`` line)."""
        fields: dict[str, Any] = {
            "status": self.status.value,
            "port": self.port,
            "protocol": self.protocol,
            "message": self.message,
        }
        if self.external_address is not None:
            fields["external_address"] = self.external_address
            fields["external_port"] = self.external_port
        if self.reason is not None:
            fields["reason"] = self.reason
        if self.lease_s is not None:
            fields["lease_s"] = self.lease_s
            fields["renewals"] = self.renewals
        return fields


@dataclass(frozen=True, slots=True, kw_only=True)
class PortMappingOptions:
    """How long to look for a router, and the lease asked for."""

    #: How long UPnP discovery waits for routers to answer.
    discover_timeout_s: float = 2.0
    #: The lease asked for; renewed at half of it. Routers drop a mapping whose
    #: lease ran out, so a crashed app leaves no port open for long.
    lease_s: int = 3600
    #: How long removing the mapping may take when the lobby closes or the app quits.
    remove_timeout_s: float = 3.0
    description: str = "LobbyHost"

    def __post_init__(self) -> None:
        if self.discover_timeout_s <= 0 or self.remove_timeout_s <= 0:
            raise ValueError("port mapping timeouts must be positive")
        if self.lease_s < 2:
            raise ValueError("a port mapping lease must be at least 2 s")


class Router(Protocol):
    """A router that forwards ports: the seam between :class:`PortMapper` and UPnP."""

    async def add(
        self,
        *,
        external_port: int,
        internal_port: int,
        protocol: str,
        description: str,
        lease_s: int,
    ) -> int:
        """Forward ``external_port`` here; returns the external port the router chose."""
        ...

    async def remove(self, *, external_port: int, protocol: str) -> None: ...

    async def external_address(self) -> str: ...


RouterFinder = Callable[[PortMappingOptions], Awaitable[Router]]


async def find_router(options: PortMappingOptions) -> Router:
    """The router on the local network: by UPnP discovery, else the gateway by NAT-PMP."""
    # Each client module imports this one, and loads its library: imported when needed.
    from .nat_pmp import NatPmpRouter
    from .upnp import UpnpRouter

    try:
        return await UpnpRouter.find(options)
    except NoRouterFound as no_upnp:
        try:
            return await NatPmpRouter.find(options)
        except NoRouterFound as no_nat_pmp:
            raise NoRouterFound(f"UPnP: {no_upnp}; NAT-PMP: {no_nat_pmp}") from no_nat_pmp


class PortMapper:
    """One port forwarded by the router while this runs: found, opened, renewed, removed.

    :meth:`start` works in the background and tells listeners each state;
    :meth:`close` stops it and removes the mapping (also while it is still
    being made).
    """

    def __init__(
        self,
        port: int,
        *,
        options: PortMappingOptions | None = None,
        protocol: str = "TCP",
        find_router: RouterFinder = find_router,
    ) -> None:
        self.options = options or PortMappingOptions()
        self.state = PortMappingState(
            status=PortMappingStatus.SEARCHING, port=port, protocol=protocol
        )
        self._find_router = find_router
        self._listeners: list[PortMappingListener] = []
        self._task: asyncio.Task[None] | None = None
        self._router: Router | None = None
        self._mapped_port: int | None = None

    def add_listener(self, listener: PortMappingListener) -> None:
        """Hear every state from now on (called on the event loop)."""
        self._listeners.append(listener)

    def start(self) -> None:
        """Find the router and open the port in the background, then keep it open."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def wait_settled(self) -> PortMappingState:
        """Until the router answered (opened, refused) or none was found."""
        settled = asyncio.get_running_loop().create_future()

        def on_state(state: PortMappingState) -> None:
            if state.status is not PortMappingStatus.SEARCHING and not settled.done():
                settled.set_result(state)

        if self.state.status is not PortMappingStatus.SEARCHING:
            return self.state
        self._listeners.append(on_state)
        try:
            result: PortMappingState = await settled
            return result
        finally:
            self._listeners.remove(on_state)

    async def close(self) -> None:
        """Stop renewing and remove the mapping from the router (bounded in time)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        router, external_port = self._router, self._mapped_port
        self._mapped_port = None
        if router is None or external_port is None:
            return
        try:
            async with asyncio.timeout(self.options.remove_timeout_s):
                await router.remove(external_port=external_port, protocol=self.state.protocol)
        except (PortMappingError, TimeoutError) as exc:
            # The lease ends it anyway: the router drops the mapping when it runs out.
            logger.warning("could not remove port %s from the router: %s", external_port, exc)
        self._set(replace(self.state, status=PortMappingStatus.REMOVED))

    async def _run(self) -> None:
        state, options = self.state, self.options
        try:
            self._router = router = await self._find_router(options)
        except NoRouterFound as exc:
            logger.info("no router for port mapping: %s", exc)
            self._set(replace(state, status=PortMappingStatus.NO_ROUTER, reason=str(exc)))
            return
        lease_s = options.lease_s
        try:
            try:
                external_port = await self._add(router, lease_s)
            except RouterRefused as exc:
                if PERMANENT_ONLY not in str(exc):
                    raise
                lease_s = 0  # removed on close; nothing to renew
                external_port = await self._add(router, lease_s)
            external_address = await router.external_address()
        except RouterRefused as exc:
            logger.info("the router refused to map port %s: %s", state.port, exc)
            self._set(replace(state, status=PortMappingStatus.REFUSED, reason=str(exc)))
            return
        self._set(
            replace(
                state,
                status=PortMappingStatus.OPENED,
                external_address=external_address,
                external_port=external_port,
                lease_s=lease_s,
            )
        )
        if lease_s:
            await self._renew_forever(router, lease_s)

    async def _add(self, router: Router, lease_s: int) -> int:
        wanted = self._mapped_port or self.state.port
        # Counted as mapped while the router works on it: a close meanwhile removes it.
        self._mapped_port = wanted
        try:
            chosen = await router.add(
                external_port=wanted,
                internal_port=self.state.port,
                protocol=self.state.protocol,
                description=self.options.description,
                lease_s=lease_s,
            )
        except RouterRefused:
            self._mapped_port = None
            raise
        self._mapped_port = chosen
        return chosen

    async def _renew_forever(self, router: Router, lease_s: int) -> None:
        """Ask again at half the lease, so the router never lets it run out while open."""
        while True:
            await asyncio.sleep(lease_s / 2)
            try:
                await self._add(router, lease_s)
            except RouterRefused as exc:
                logger.warning("the router refused to renew port %s: %s", self.state.port, exc)
                self._set(replace(self.state, status=PortMappingStatus.REFUSED, reason=str(exc)))
                return
            self._set(replace(self.state, renewals=self.state.renewals + 1))

    def _set(self, state: PortMappingState) -> None:
        self.state = state
        for listener in list(self._listeners):
            try:
                listener(state)
            except Exception:
                logger.exception("a port mapping listener failed on %s", state.status.value)


__all__ = [
    "NoRouterFound",
    "PortMapper",
    "PortMappingError",
    "PortMappingOptions",
    "PortMappingState",
    "PortMappingStatus",
    "Router",
    "RouterRefused",
    "find_router",
]
