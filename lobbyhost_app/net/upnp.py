"""UPnP-IGD port mapping through miniupnpc: the :class:`~.port_mapping.Router` found by discovery.

miniupnpc is the MiniUPnP project's own client, the same project most routers'
UPnP daemon (miniupnpd) comes from. Its calls block, so each runs on the event
loop's executor, one at a time: a slow router never stalls the event loop.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Callable
from typing import Any, Final, TypeVar

from .port_mapping import NoRouterFound, PortMappingOptions, RouterRefused

T = TypeVar("T")

#: The router's error when a port is already forwarded to someone else (UPnP 718).
_CONFLICT: Final = "ConflictInMappingEntry"


async def _on_thread(call: Callable[[], T]) -> T:
    """``call()`` on the loop's executor: a blocking library call off the event loop.

    The loop's own executor, not threads of our own: the loop waits for it
    before it closes, so no thread hands a result to a loop that is gone (on
    qasync's loop that takes the process down). miniupnpc's calls end on their
    own socket timeouts, discovery after ``discover_timeout_s``.
    """
    return await asyncio.get_running_loop().run_in_executor(None, call)


class UpnpRouter:
    """An Internet Gateway Device found by UPnP discovery, through miniupnpc."""

    def __init__(self, upnp: Any) -> None:
        self._upnp = upnp
        self._lock = asyncio.Lock()  # one call at a time on miniupnpc's object
        #: This machine's address on the router's network.
        self.lan_address: str = upnp.lanaddr

    @classmethod
    async def find(cls, options: PortMappingOptions) -> UpnpRouter:
        """Discover the router; :class:`NoRouterFound` when none answers in time."""
        import miniupnpc

        def discover() -> Any:
            upnp = miniupnpc.UPnP()
            upnp.discoverdelay = max(1, round(options.discover_timeout_s * 1000))
            try:
                found = upnp.discover()
                if not found:
                    raise NoRouterFound("no UPnP device answered")
                upnp.selectigd()
            except NoRouterFound:
                raise
            except Exception as exc:  # miniupnpc raises plain Exception with its reason
                raise NoRouterFound(str(exc)) from exc
            return upnp

        return cls(await _on_thread(discover))

    async def _call(self, method: str, *args: object) -> Any:
        async with self._lock:
            try:
                return await _on_thread(lambda: getattr(self._upnp, method)(*args))
            except Exception as exc:  # the router's UPnP error, in miniupnpc's words
                raise RouterRefused(str(exc) or type(exc).__name__) from exc

    async def add(
        self,
        *,
        external_port: int,
        internal_port: int,
        protocol: str,
        description: str,
        lease_s: int,
    ) -> int:
        """Forward ``external_port``; if another machine holds it, any port the router picks."""
        try:
            await self._call(
                "addportmapping",
                external_port,
                protocol,
                self.lan_address,
                internal_port,
                description,
                "",
                lease_s,
            )
            return external_port
        except RouterRefused as exc:
            if _CONFLICT not in str(exc):
                raise
        chosen = await self._call(
            "addanyportmapping",
            external_port,
            protocol,
            self.lan_address,
            internal_port,
            description,
            "",
            lease_s,
        )
        return int(chosen)

    async def remove(self, *, external_port: int, protocol: str) -> None:
        await self._call("deleteportmapping", external_port, protocol)

    async def external_address(self) -> str:
        address = str(await self._call("externalipaddress"))
        try:
            ipaddress.ip_address(address)
        except ValueError as exc:
            raise RouterRefused(f"the router gave no external address ({address!r})") from exc
        return address


__all__ = ["UpnpRouter"]
