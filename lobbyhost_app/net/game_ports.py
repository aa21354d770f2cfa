"""The game bridge on a whole session: one :class:`~.bridge.PortBridge` per peer link.

:class:`HostGamePorts` shares the host's game ports with every guest (and
listens for ports a guest shares); :class:`GuestGamePorts` opens the guest's
local listeners for the host's ports. Both are Qt-free, composed once by the
hosting service, the headless host, the guest CLI or a controller.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping

from ..session_values import LinkState
from .bridge import LOOPBACK, BridgeLimits, Forward, PortBridge, PortTraffic
from .channels import LobbyChannel
from .forwards import MAX_SHARED_PORTS, SharedPort, Transport, unique_ports
from .guest import GuestSession
from .host import HostSession
from .link import PeerLink

logger = logging.getLogger(__name__)

#: ``(connection id, forward)``: a listener on the host for a port a guest shares.
HostForwardListener = Callable[[str, Forward], None]


class HostGamePorts:
    """The ports the host shares, served to every guest; a bridge per guest link.

    A port a guest shares (its listen server) gets a listener on the host; with
    ``relay_guest_ports`` the host shares that listener with the other guests
    in turn (under the listener's port number), so they reach the guest's
    server through the host: the lobby is a star.
    """

    def __init__(
        self,
        session: HostSession,
        shared: Iterable[SharedPort] = (),
        *,
        target_host: str = LOOPBACK,
        limits: BridgeLimits | None = None,
        relay_guest_ports: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``clock`` (seconds) times idle UDP flows."""
        self.session = session
        self.relay_guest_ports = relay_guest_ports
        self._clock = clock
        self.target_host = target_host
        self.limits = limits or BridgeLimits()
        self._shared = unique_ports(shared)
        #: Traffic by shared port, summed over every guest, past and present.
        self.served: dict[tuple[Transport, int], PortTraffic] = {}
        self._bridges: dict[str, PortBridge] = {}
        #: Host listeners for guests' servers, shared with the other guests, by whose server.
        self._relayed: dict[str, tuple[SharedPort, ...]] = {}
        self._forward_listeners: list[HostForwardListener] = []
        self._forward_closed_listeners: list[HostForwardListener] = []
        session.add_link_listener(self._on_link)

    @property
    def shared(self) -> tuple[SharedPort, ...]:
        return self._shared

    def set_shared(self, ports: Iterable[SharedPort]) -> None:
        """Share these ports from now on; every guest hears the new list at once."""
        self._shared = unique_ports(ports)
        self._update_shares()

    def traffic(self, port: SharedPort) -> PortTraffic:
        """What went through ``port`` so far, all guests together."""
        return self.served.get(port.key) or PortTraffic()

    def bridge(self, connection_id: str) -> PortBridge | None:
        return self._bridges.get(connection_id)

    def add_forward_listener(
        self, opened: HostForwardListener, closed: HostForwardListener | None = None
    ) -> None:
        """Hear of each listener opened on the host for a port a guest shares (and closed)."""
        self._forward_listeners.append(opened)
        if closed is not None:
            self._forward_closed_listeners.append(closed)

    def _on_link(self, connection_id: str, link: PeerLink, lobby: LobbyChannel) -> None:
        bridge = PortBridge(
            link,
            lobby,
            shared=self._shares_for(connection_id),
            target_host=self.target_host,
            limits=self.limits,
            served=self.served,
            clock=self._clock,
        )
        bridge.on_forward = lambda forward: self._forward_opened(connection_id, forward)
        bridge.on_forward_closed = lambda forward: self._forward_closed(connection_id, forward)
        self._bridges[connection_id] = bridge

        def ended(changed: PeerLink) -> None:
            ended = changed.state in (LinkState.CLOSED, LinkState.FAILED)
            if ended and self._bridges.get(connection_id) is bridge:
                del self._bridges[connection_id]
                if self._relayed.pop(connection_id, None):
                    self._update_shares()

        link.add_state_listener(ended)

    def _shares_for(self, connection_id: str) -> tuple[SharedPort, ...]:
        """What one guest is offered: the host's ports, then the other guests' servers."""
        others = [
            port
            for owner, ports in self._relayed.items()
            if owner != connection_id
            for port in ports
        ]
        # A guest reads at most MAX_SHARED_PORTS: the host's own come first.
        return unique_ports((*self._shared, *others))[:MAX_SHARED_PORTS]

    def _update_shares(self) -> None:
        for connection_id, bridge in list(self._bridges.items()):
            bridge.set_shared(self._shares_for(connection_id))

    def _forward_opened(self, connection_id: str, forward: Forward) -> None:
        # The bridge connects only to its target address: a listener elsewhere is not relayed.
        if self.relay_guest_ports and forward.local_host == self.target_host:
            relayed = SharedPort(forward.local_port, forward.shared.transport, forward.shared.label)
            self._relayed[connection_id] = (*self._relayed.get(connection_id, ()), relayed)
            self._update_shares()
        for listener in list(self._forward_listeners):
            listener(connection_id, forward)

    def _forward_closed(self, connection_id: str, forward: Forward) -> None:
        relayed = self._relayed.get(connection_id, ())
        listener_key = (forward.shared.transport, forward.local_port)
        kept = tuple(p for p in relayed if p.key != listener_key)
        if kept != relayed:
            self._relayed[connection_id] = kept
            self._update_shares()
        for listener in list(self._forward_closed_listeners):
            listener(connection_id, forward)


class GuestGamePorts:
    """The guest's local listeners for the host's shared ports (and the guest's own shares).

    It follows the session's link: when the lobby gets a new host (a migration),
    the bridge to the old host closes with its link (each listener says
    ``forward_closed``) and a bridge on the new link opens listeners for the
    ports the new host shares. A port this guest listened for before reopens on
    the same local port when it is free, so the address given to the game holds.
    """

    def __init__(
        self,
        session: GuestSession,
        *,
        local_ports: Mapping[int, int] | None = None,
        shared: Iterable[SharedPort] = (),
        target_host: str = LOOPBACK,
    ) -> None:
        self.session = session
        self.local_ports = dict(local_ports or {})
        self.target_host = target_host
        self._shared = unique_ports(shared)
        self.bridge: PortBridge | None = None
        #: The local port each host port was last forwarded at, across links (hosts).
        self._last_local_ports: dict[int, int] = {}
        self._opened: list[Callable[[Forward], None]] = []
        self._closed: list[Callable[[Forward], None]] = []
        session.add_link_listener(self._on_link)

    def add_forward_listener(
        self,
        opened: Callable[[Forward], None],
        closed: Callable[[Forward], None] | None = None,
    ) -> None:
        """Hear of each local listener as it opens (and closes: the host stopped sharing)."""
        self._opened.append(opened)
        if closed is not None:
            self._closed.append(closed)

    @property
    def forwards(self) -> tuple[Forward, ...]:
        return self.bridge.forwards if self.bridge is not None else ()

    def traffic(self) -> dict[Forward, PortTraffic]:
        return self.bridge.forward_traffic() if self.bridge is not None else {}

    def _on_link(self, link: PeerLink, lobby: LobbyChannel) -> None:
        if self.bridge is not None:
            self.bridge.close()
        self.bridge = bridge = PortBridge(
            link,
            lobby,
            shared=self._shared,
            target_host=self.target_host,
            # The user's choice (--forward-port) first, else where the game was told last.
            local_ports={**self._last_local_ports, **self.local_ports},
        )
        bridge.on_forward = self._forward_opened
        bridge.on_forward_closed = self._forward_closed

    def _forward_opened(self, forward: Forward) -> None:
        self._last_local_ports[forward.shared.port] = forward.local_port
        for listener in list(self._opened):
            listener(forward)

    def _forward_closed(self, forward: Forward) -> None:
        for listener in list(self._closed):
            listener(forward)


__all__ = ["GuestGamePorts", "HostForwardListener", "HostGamePorts"]
