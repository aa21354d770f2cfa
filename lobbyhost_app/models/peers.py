"""The host's live peers as a table model, one row per accepted guest.

Rows are keyed by peer id, which stays the same when a guest resumes on a new
signalling connection (its connection id changes). Updates come in batches
(:meth:`PeerTableModel.apply_updates`): new rows in one insert, changed rows in
one ``dataChanged`` over the span they cover.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Iterable
from dataclasses import dataclass

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
)

from ..session_values import LinkState, LinkStats, PeerUpdated

AnyIndex = QModelIndex | QPersistentModelIndex


class PeerColumn(enum.IntEnum):
    NAME = 0
    PEER_ID = 1
    STATE = 2
    RTT = 3
    ROUTE = 4
    BYTES_IN = 5
    BYTES_OUT = 6
    CONNECTED_SINCE = 7
    KICK = 8


_HEADERS = {
    PeerColumn.NAME: "Name",
    PeerColumn.PEER_ID: "Peer",
    PeerColumn.STATE: "State",
    PeerColumn.RTT: "RTT (ms)",
    PeerColumn.ROUTE: "Route",
    PeerColumn.BYTES_IN: "In",
    PeerColumn.BYTES_OUT: "Out",
    PeerColumn.CONNECTED_SINCE: "Connected since",
    PeerColumn.KICK: "",
}

#: Shown for a value not known yet.
NO_VALUE = "\N{EN DASH}"

_NUMERIC = {PeerColumn.PEER_ID, PeerColumn.RTT, PeerColumn.BYTES_IN, PeerColumn.BYTES_OUT}


def format_bytes(count: int) -> str:
    """``"512 B"``, ``"1.5 KB"``, ``"2.3 MB"``."""
    value = float(count)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


@dataclass(slots=True)
class PeerRow:
    """What the table shows about one guest."""

    peer_id: int
    connection_id: str
    name: str
    stats: LinkStats


class PeerTableModel(QAbstractTableModel):
    """Accepted guests with their link state, RTT, route and traffic."""

    #: Raw values (numbers, the connection id) for sorting and tests.
    RawRole = Qt.ItemDataRole.UserRole + 1

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[PeerRow] = []

    # Qt model API ------------------------------------------------------------------------

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(PeerColumn)

    def headerData(
        self,
        section: int,
        orientation: Qt.Orientation,
        role: int = Qt.ItemDataRole.DisplayRole,
    ) -> object:
        if orientation is Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return _HEADERS.get(PeerColumn(section)) if 0 <= section < len(PeerColumn) else None
        return None

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        row = self._rows[index.row()]
        column = PeerColumn(index.column())
        if role == Qt.ItemDataRole.DisplayRole:
            return _display(row, column)
        if role == self.RawRole:
            return _raw(row, column)
        if role == Qt.ItemDataRole.TextAlignmentRole and column in _NUMERIC:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole and column is PeerColumn.STATE:
            return f"{row.name}: {row.stats.state.value} (connection {row.connection_id})"
        return None

    # Changes -------------------------------------------------------------------------------

    def apply_updates(self, updates: Iterable[PeerUpdated]) -> None:
        """Apply a batch: one insert for the new peers, one ``dataChanged`` for the rest."""
        changed: list[int] = []
        new: dict[int, PeerRow] = {}
        for update in updates:
            position = self.row_of_peer(update.peer_id)
            if position is not None:
                row = self._rows[position]
                row.connection_id, row.name, row.stats = (
                    update.connection_id,
                    update.name,
                    update.stats,
                )
                changed.append(position)
            else:
                new[update.peer_id] = PeerRow(
                    update.peer_id, update.connection_id, update.name, update.stats
                )
        if changed:
            self.dataChanged.emit(
                self.index(min(changed), 0),
                self.index(max(changed), len(PeerColumn) - 1),
                [Qt.ItemDataRole.DisplayRole, self.RawRole],
            )
        if new:
            first = len(self._rows)
            self.beginInsertRows(QModelIndex(), first, first + len(new) - 1)
            self._rows.extend(new.values())
            self.endInsertRows()

    def remove_connection(self, connection_id: str) -> None:
        """Remove the peer whose current connection id this is."""
        for position, row in enumerate(self._rows):
            if row.connection_id == connection_id:
                self.beginRemoveRows(QModelIndex(), position, position)
                del self._rows[position]
                self.endRemoveRows()
                return

    def clear(self) -> None:
        self.beginResetModel()
        self._rows.clear()
        self.endResetModel()

    # Lookups ---------------------------------------------------------------------------------

    def row_of_peer(self, peer_id: int) -> int | None:
        for position, row in enumerate(self._rows):
            if row.peer_id == peer_id:
                return position
        return None

    def peer_id_of(self, connection_id: str) -> int | None:
        for row in self._rows:
            if row.connection_id == connection_id:
                return row.peer_id
        return None

    def peer_at(self, position: int) -> PeerRow:
        return self._rows[position]

    def peers(self) -> list[PeerRow]:
        return list(self._rows)


def _display(row: PeerRow, column: PeerColumn) -> str | None:
    stats = row.stats
    match column:
        case PeerColumn.NAME:
            return row.name
        case PeerColumn.PEER_ID:
            return str(row.peer_id)
        case PeerColumn.STATE:
            return stats.state.value
        case PeerColumn.RTT:
            return NO_VALUE if stats.rtt_ms is None else f"{stats.rtt_ms:.1f}"
        case PeerColumn.ROUTE:
            return stats.route or NO_VALUE
        case PeerColumn.BYTES_IN:
            return format_bytes(stats.bytes_in)
        case PeerColumn.BYTES_OUT:
            return format_bytes(stats.bytes_out)
        case PeerColumn.CONNECTED_SINCE:
            if stats.connected_since is None:
                return NO_VALUE
            return time.strftime("%H:%M:%S", time.localtime(stats.connected_since))
        case PeerColumn.KICK:
            return None


def _raw(row: PeerRow, column: PeerColumn) -> object:
    stats = row.stats
    return {
        PeerColumn.NAME: row.name,
        PeerColumn.PEER_ID: row.peer_id,
        PeerColumn.STATE: stats.state,
        PeerColumn.RTT: stats.rtt_ms,
        PeerColumn.ROUTE: stats.route,
        PeerColumn.BYTES_IN: stats.bytes_in,
        PeerColumn.BYTES_OUT: stats.bytes_out,
        PeerColumn.CONNECTED_SINCE: stats.connected_since,
        PeerColumn.KICK: row.connection_id,
    }[column]


__all__ = ["LinkState", "PeerColumn", "PeerRow", "PeerTableModel", "format_bytes"]
