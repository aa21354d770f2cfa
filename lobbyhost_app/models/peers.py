"""The host's live peers as a table model, one row per accepted guest.

Rows are keyed by peer id, which stays the same when a guest resumes on a new
signalling connection (its connection id changes). Updates come in batches
(:meth:`PeerTableModel.apply_updates`): new rows in one insert, changed rows in
one ``dataChanged`` over the span they cover.

A guest whose connection dropped keeps its row while the server keeps its place:
its state reads "connection lost, waiting up to N s" (counting down once a
second) and its RTT and route, stale by then, show a dash.
"""

from __future__ import annotations

import enum
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    QTimer,
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
    #: While its connection is lost: when (on the model's clock) its place is given up.
    lost_until: float | None = None

    @property
    def connection_lost(self) -> bool:
        return self.lost_until is not None


def lost_state_text(seconds_left: float) -> str:
    """The state of a guest whose connection dropped and who may still come back."""
    return f"connection lost, waiting up to {math.ceil(max(0.0, seconds_left))} s"


class PeerTableModel(QAbstractTableModel):
    """Accepted guests with their link state, RTT, route and traffic."""

    #: Raw values (numbers, the connection id) for sorting and tests.
    RawRole = Qt.ItemDataRole.UserRole + 1

    def __init__(
        self, parent: QObject | None = None, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__(parent)
        self._rows: list[PeerRow] = []
        self._clock = clock
        #: Counts down the wait of guests whose connection is lost, once a second.
        self._ticker = QTimer(self)
        self._ticker.setInterval(1000)
        self._ticker.timeout.connect(self._on_ticker_timeout)

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
            if row.lost_until is not None:
                if column is PeerColumn.STATE:
                    return lost_state_text(row.lost_until - self._clock())
                if column in (PeerColumn.RTT, PeerColumn.ROUTE):
                    return NO_VALUE  # the last figures are stale
            return _display(row, column)
        if role == self.RawRole:
            return _raw(row, column)
        if role == Qt.ItemDataRole.TextAlignmentRole and column in _NUMERIC:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole and column is PeerColumn.STATE:
            if row.lost_until is not None:
                return (
                    f"{row.name} lost the connection; their place is kept in case they "
                    f"come back (connection {row.connection_id})"
                )
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

    def mark_connection_lost(self, peer_id: int, grace_s: float) -> None:
        """The peer's connection dropped; the server keeps its place for ``grace_s`` seconds."""
        self._set_lost_until(peer_id, self._clock() + grace_s)

    def mark_reconnected(self, peer_id: int) -> None:
        """The peer whose connection was lost is back."""
        self._set_lost_until(peer_id, None)

    def remove_connection(self, connection_id: str) -> None:
        """Remove the peer whose current connection id this is."""
        for position, row in enumerate(self._rows):
            if row.connection_id == connection_id:
                self.beginRemoveRows(QModelIndex(), position, position)
                del self._rows[position]
                self.endRemoveRows()
                self._update_ticker()
                return

    def clear(self) -> None:
        self.beginResetModel()
        self._rows.clear()
        self.endResetModel()
        self._update_ticker()

    def _set_lost_until(self, peer_id: int, lost_until: float | None) -> None:
        position = self.row_of_peer(peer_id)
        if position is None:
            return
        self._rows[position].lost_until = lost_until
        self.dataChanged.emit(
            self.index(position, 0),
            self.index(position, len(PeerColumn) - 1),
            [Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole],
        )
        self._update_ticker()

    def _update_ticker(self) -> None:
        if any(row.lost_until is not None for row in self._rows):
            if not self._ticker.isActive():
                self._ticker.start()
        else:
            self._ticker.stop()

    def _on_ticker_timeout(self) -> None:
        for position, row in enumerate(self._rows):
            if row.lost_until is not None:
                state = self.index(position, PeerColumn.STATE)
                self.dataChanged.emit(state, state, [Qt.ItemDataRole.DisplayRole])

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

    def peer_of(self, connection_id: str) -> PeerRow | None:
        """The peer whose current connection id this is."""
        return next((row for row in self._rows if row.connection_id == connection_id), None)

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


__all__ = [
    "LinkState",
    "PeerColumn",
    "PeerRow",
    "PeerTableModel",
    "format_bytes",
    "lost_state_text",
]
