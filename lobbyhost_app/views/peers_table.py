"""The live peers table: a :class:`PeerTableModel` with a Kick button on every row."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QPushButton, QTableView, QWidget

from ..models.peers import PeerColumn, PeerTableModel

AnyIndex = QModelIndex | QPersistentModelIndex


#: The widest text each column usually shows, to size it once (cells change every second).
_WIDEST = {
    PeerColumn.PEER_ID: "64",
    PeerColumn.STATE: "connecting",
    PeerColumn.RTT: "999.9",
    PeerColumn.ROUTE: "srflx",
    PeerColumn.BYTES_IN: "999.9 KB",
    PeerColumn.BYTES_OUT: "999.9 KB",
    PeerColumn.CONNECTED_SINCE: "00:00:00",
    PeerColumn.KICK: "Kick",
}


class PeersTable(QTableView):
    """Peers with their link details; Kick sits in the last column.

    Signals: ``kick_requested(str connection_id)``.
    """

    kick_requested = Signal(str)

    def __init__(self, model: PeerTableModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.peer_model = model
        self.setModel(model)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setAlternatingRowColors(True)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.verticalHeader().hide()
        self.setAccessibleName("Connected peers")
        header = self.horizontalHeader()
        header.setMinimumSectionSize(48)
        metrics = self.fontMetrics()
        for column, sample in _WIDEST.items():
            title = str(model.headerData(column, Qt.Orientation.Horizontal))
            width = max(metrics.horizontalAdvance(sample), metrics.horizontalAdvance(title))
            self.setColumnWidth(column, width + 24)
        header.setSectionResizeMode(PeerColumn.NAME, QHeaderView.ResizeMode.Stretch)
        self._connect_signals()

    def _connect_signals(self) -> None:
        self.peer_model.rowsInserted.connect(self._on_peer_model_rows_inserted)

    def kick_button(self, row: int) -> QPushButton | None:
        widget = self.indexWidget(self.peer_model.index(row, PeerColumn.KICK))
        return widget if isinstance(widget, QPushButton) else None

    def _on_peer_model_rows_inserted(self, parent: AnyIndex, first: int, last: int) -> None:
        for row in range(first, last + 1):
            peer = self.peer_model.peer_at(row)
            button = QPushButton("Kick", self)
            button.setAccessibleName(f"Kick {peer.name}")
            button.setToolTip(f"Disconnect {peer.name} and remove them from the lobby")
            peer_id = peer.peer_id
            button.clicked.connect(lambda _checked=False, p=peer_id: self._kick(p))
            self.setIndexWidget(self.peer_model.index(row, PeerColumn.KICK), button)

    def _kick(self, peer_id: int) -> None:
        # Look the row up now: rows move, and a resumed guest has a new connection id.
        row = self.peer_model.row_of_peer(peer_id)
        if row is not None:
            self.kick_requested.emit(self.peer_model.peer_at(row).connection_id)
