"""The host's pending join requests as a list model: one row per request, oldest first."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import (
    QAbstractListModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    QTimer,
)

from ..session_values import JoinRequested

AnyIndex = QModelIndex | QPersistentModelIndex


def format_waiting(seconds: float) -> str:
    """``"4 s"``, ``"1 min 05 s"``: how long someone has been waiting."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s"
    return f"{seconds // 60} min {seconds % 60:02d} s"


@dataclass(frozen=True, slots=True)
class _Row:
    connection_id: str
    name: str
    requested_at: float


class JoinRequestsModel(QAbstractListModel):
    """Pending requests; the waiting time refreshes once a second while any is listed."""

    ConnectionIdRole = Qt.ItemDataRole.UserRole + 1
    NameRole = Qt.ItemDataRole.UserRole + 2
    WaitingRole = Qt.ItemDataRole.UserRole + 3

    def __init__(
        self, parent: QObject | None = None, *, clock: Callable[[], float] = time.time
    ) -> None:
        super().__init__(parent)
        self._rows: list[_Row] = []
        self._clock = clock
        self._ticker = QTimer(self)
        self._ticker.setInterval(1000)
        self._ticker.timeout.connect(self._on_ticker_timeout)

    # Qt model API ---------------------------------------------------------------------

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        row = self._rows[index.row()]
        if role in (Qt.ItemDataRole.DisplayRole, self.NameRole):
            return row.name
        if role == self.ConnectionIdRole:
            return row.connection_id
        if role == self.WaitingRole:
            return format_waiting(self._clock() - row.requested_at)
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{row.name} has been waiting {format_waiting(self._clock() - row.requested_at)}"
        return None

    # Changes -------------------------------------------------------------------------------

    def add_request(self, request: JoinRequested) -> None:
        if self.row_of(request.connection_id) is not None:
            return
        position = len(self._rows)
        self.beginInsertRows(QModelIndex(), position, position)
        self._rows.append(_Row(request.connection_id, request.name, request.requested_at))
        self.endInsertRows()
        if not self._ticker.isActive():
            self._ticker.start()

    def remove_request(self, connection_id: str) -> None:
        row = self.row_of(connection_id)
        if row is None:
            return
        self.beginRemoveRows(QModelIndex(), row, row)
        del self._rows[row]
        self.endRemoveRows()
        if not self._rows:
            self._ticker.stop()

    def clear(self) -> None:
        self.beginResetModel()
        self._rows.clear()
        self.endResetModel()
        self._ticker.stop()

    # Lookups ---------------------------------------------------------------------------------

    def row_of(self, connection_id: str) -> int | None:
        for position, row in enumerate(self._rows):
            if row.connection_id == connection_id:
                return position
        return None

    def connection_ids(self) -> list[str]:
        return [row.connection_id for row in self._rows]

    def _on_ticker_timeout(self) -> None:
        if self._rows:
            self.dataChanged.emit(
                self.index(0), self.index(len(self._rows) - 1), [self.WaitingRole]
            )
