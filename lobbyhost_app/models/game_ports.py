"""Table models over the game bridge's ports: the host's shared ports, the guest's listeners."""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt

from ..net.forwards import Forward, PortTraffic, SharedPort
from .peers import format_bytes

if TYPE_CHECKING:
    # Only types: the controllers load the network stack (aiortc).
    from ..controllers.game_ports import GuestPortsController, HostGamePortsController

AnyIndex = QModelIndex | QPersistentModelIndex
_NO_INDEX = QModelIndex()


def describe_traffic(traffic: PortTraffic) -> str:
    """``↓ 1.2 MB  ↑ 30 kB``: from the other side, to it."""
    return (
        f"\N{DOWNWARDS ARROW} {format_bytes(traffic.bytes_in)}  "
        f"\N{UPWARDS ARROW} {format_bytes(traffic.bytes_out)}"
    )


class SharedPortColumn(enum.IntEnum):
    PORT = 0
    PROTOCOL = 1
    LABEL = 2
    TRAFFIC = 3
    CONNECTIONS = 4


_SHARED_HEADERS = ("Port", "Protocol", "Game", "Traffic (in / out)", "Connections")


class SharedPortsModel(QAbstractTableModel):
    """The ports the host shares, one row each, with their traffic."""

    def __init__(self, controller: HostGamePortsController, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self._ports = controller.shared
        controller.ports_changed.connect(self._on_controller_ports_changed)
        controller.traffic_changed.connect(self._on_controller_traffic_changed)

    def port_at(self, row: int) -> SharedPort:
        return self._ports[row]

    def rowCount(self, parent: AnyIndex = _NO_INDEX) -> int:
        return 0 if parent.isValid() else len(self._ports)

    def columnCount(self, parent: AnyIndex = _NO_INDEX) -> int:
        return 0 if parent.isValid() else len(SharedPortColumn)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> str | None:
        if orientation is Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return _SHARED_HEADERS[section]
        return None

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> str | None:
        if not index.isValid() or role != Qt.ItemDataRole.DisplayRole:
            return None
        port = self._ports[index.row()]
        match SharedPortColumn(index.column()):
            case SharedPortColumn.PORT:
                return str(port.port)
            case SharedPortColumn.PROTOCOL:
                return port.transport.value.upper()
            case SharedPortColumn.LABEL:
                return port.label
            case SharedPortColumn.TRAFFIC:
                return describe_traffic(self.controller.traffic(port))
            case SharedPortColumn.CONNECTIONS:
                return str(self.controller.traffic(port).connections)

    def _on_controller_ports_changed(self, ports: tuple[SharedPort, ...]) -> None:
        self.beginResetModel()
        self._ports = ports
        self.endResetModel()

    def _on_controller_traffic_changed(self) -> None:
        if self._ports:
            last = len(self._ports) - 1
            first = self.index(0, SharedPortColumn.TRAFFIC)
            self.dataChanged.emit(first, self.index(last, SharedPortColumn.CONNECTIONS))


class ForwardColumn(enum.IntEnum):
    LABEL = 0
    HOST_PORT = 1
    ADDRESS = 2
    TRAFFIC = 3


_FORWARD_HEADERS = ("Game", "Host's port", "Give your game", "Traffic (in / out)")


class ForwardsModel(QAbstractTableModel):
    """The guest's local listeners, one row per port the host shares."""

    def __init__(self, controller: GuestPortsController, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self._forwards = controller.forwards
        controller.forwards_changed.connect(self._on_controller_forwards_changed)
        controller.traffic_changed.connect(self._on_controller_traffic_changed)

    def forward_at(self, row: int) -> Forward:
        return self._forwards[row]

    def rowCount(self, parent: AnyIndex = _NO_INDEX) -> int:
        return 0 if parent.isValid() else len(self._forwards)

    def columnCount(self, parent: AnyIndex = _NO_INDEX) -> int:
        return 0 if parent.isValid() else len(ForwardColumn)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> str | None:
        if orientation is Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return _FORWARD_HEADERS[section]
        return None

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> str | None:
        if not index.isValid() or role != Qt.ItemDataRole.DisplayRole:
            return None
        forward = self._forwards[index.row()]
        match ForwardColumn(index.column()):
            case ForwardColumn.LABEL:
                return forward.shared.label or "\N{EN DASH}"
            case ForwardColumn.HOST_PORT:
                return f"{forward.shared.port}/{forward.shared.transport.value.upper()}"
            case ForwardColumn.ADDRESS:
                return forward.address
            case ForwardColumn.TRAFFIC:
                return describe_traffic(self.controller.traffic(forward))

    def _on_controller_forwards_changed(self) -> None:
        self.beginResetModel()
        self._forwards = self.controller.forwards
        self.endResetModel()

    def _on_controller_traffic_changed(self) -> None:
        if self._forwards:
            row = len(self._forwards) - 1
            first = self.index(0, ForwardColumn.TRAFFIC)
            self.dataChanged.emit(first, self.index(row, ForwardColumn.TRAFFIC))
