"""The game bridge in the app: the ports the host shares, the guest's local listeners.

:class:`HostGamePortsController` keeps the host's list of shared ports (it can
be edited with or without a lobby open) and hands it to the running
:class:`~lobbyhost_app.net.game_ports.HostGamePorts`; :class:`GuestPortsController`
follows the listeners a guest session opens. Both poll their traffic counters
once a second for the views.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, QTimer, Signal

from ..net.bridge import Forward, PortTraffic
from ..net.forwards import MAX_SHARED_PORTS, SharedPort, Transport, clean_label
from ..net.game_ports import GuestGamePorts, HostGamePorts
from ..net.guest import GuestSession
from .settings import Settings

logger = logging.getLogger(__name__)

#: How often traffic counters are read for the views.
TRAFFIC_POLL_MS = 1000


class HostGamePortsController(QObject):
    """The game ports the host shares with every guest.

    Signals:
        ports_changed(tuple[SharedPort, ...]): the list changed (guests are told at once)
        guest_forwards_changed(): a listener here for a port a guest shares opened or closed
        traffic_changed(): the counters may have moved (once a second while a lobby is open)
        error_occurred(str): a port could not be added, in words
    """

    ports_changed = Signal(object)
    guest_forwards_changed = Signal()
    traffic_changed = Signal()
    error_occurred = Signal(str)

    def __init__(self, settings: Settings, parent: QObject | None = None) -> None:
        """The list starts as it was saved last time in ``settings``, and is saved as it changes."""
        super().__init__(parent)
        self._settings = settings
        self._shared: tuple[SharedPort, ...] = settings.shared_ports()
        self._service: HostGamePorts | None = None
        #: Listeners here for ports guests share (their listen servers), by guest.
        self._guest_forwards: dict[tuple[str, Forward], None] = {}
        self._timer = QTimer(self)
        self._timer.setInterval(TRAFFIC_POLL_MS)
        self._timer.timeout.connect(self.traffic_changed)

    @property
    def shared(self) -> tuple[SharedPort, ...]:
        return self._shared

    @property
    def guest_forwards(self) -> tuple[Forward, ...]:
        """Where this computer's games reach the servers guests share, in the order they came."""
        return tuple(forward for _guest, forward in self._guest_forwards)

    def add_port(self, port: int, transport: Transport, label: str = "") -> bool:
        """Share ``port``; ``False`` (and ``error_occurred``) if it cannot be."""
        if not 0 < port <= 0xFFFF:
            self.error_occurred.emit("A port is a number from 1 to 65535.")
            return False
        shared = SharedPort(port, transport, clean_label(label))
        if any(p.key == shared.key for p in self._shared):
            self.error_occurred.emit(f"Port {port}/{transport.value} is shared already.")
            return False
        if len(self._shared) >= MAX_SHARED_PORTS:
            self.error_occurred.emit(f"At most {MAX_SHARED_PORTS} ports can be shared.")
            return False
        self._set((*self._shared, shared))
        return True

    def remove_port(self, shared: SharedPort) -> None:
        """Stop sharing ``shared``: its forwarded connections close."""
        self._set(tuple(p for p in self._shared if p.key != shared.key))

    def traffic(self, shared: SharedPort) -> PortTraffic:
        """What went through ``shared`` in the open lobby, all guests together."""
        return self._service.traffic(shared) if self._service is not None else PortTraffic()

    def attach(self, service: HostGamePorts | None) -> None:
        """The running lobby's bridge (``None`` once it closed): it takes this list."""
        self._service = service
        self._guest_forwards.clear()
        if service is None:
            self._timer.stop()
        else:
            service.set_shared(self._shared)
            service.add_forward_listener(self._on_guest_forward, self._on_guest_forward_closed)
            self._timer.start()
        self.guest_forwards_changed.emit()
        self.traffic_changed.emit()

    def _on_guest_forward(self, connection_id: str, forward: Forward) -> None:
        self._guest_forwards[(connection_id, forward)] = None
        self.guest_forwards_changed.emit()

    def _on_guest_forward_closed(self, connection_id: str, forward: Forward) -> None:
        if (connection_id, forward) in self._guest_forwards:
            del self._guest_forwards[(connection_id, forward)]
            self.guest_forwards_changed.emit()

    def _set(self, ports: tuple[SharedPort, ...]) -> None:
        self._shared = ports
        self._settings.save_shared_ports(ports)
        if self._service is not None:
            self._service.set_shared(ports)
        self.ports_changed.emit(ports)


class GuestPortsController(QObject):
    """The local listeners a guest has for the ports its host shares.

    Signals:
        forwards_changed(): a listener opened or closed
        traffic_changed(): the counters may have moved (once a second while in a lobby)
    """

    forwards_changed = Signal()
    traffic_changed = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._ports: GuestGamePorts | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(TRAFFIC_POLL_MS)
        self._timer.timeout.connect(self.traffic_changed)

    @property
    def forwards(self) -> tuple[Forward, ...]:
        return self._ports.forwards if self._ports is not None else ()

    def traffic(self, forward: Forward) -> PortTraffic:
        if self._ports is None:
            return PortTraffic()
        return self._ports.traffic().get(forward) or PortTraffic()

    def attach(self, session: GuestSession | None) -> None:
        """Follow ``session``'s listeners (before it joins); ``None`` once it is over."""
        if session is None:
            self._ports = None
            self._timer.stop()
        else:
            self._ports = GuestGamePorts(session)
            self._ports.add_forward_listener(self._on_forward, self._on_forward)
            self._timer.start()
        self.forwards_changed.emit()

    def _on_forward(self, _forward: Forward) -> None:
        self.forwards_changed.emit()
