"""The live peers table: a :class:`PeerTableModel` with a Kick button on every row.

Tab moves through the table and its Kick buttons and on out of it (Qt's tables
keep Tab for moving between cells by default, which traps the keyboard there);
the arrow keys move between rows.
"""

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

    Signals: ``kick_requested(int peer_id)``: Kick was pressed on that peer's row
    (the view asks before anything happens).
    """

    kick_requested = Signal(int)

    def __init__(self, model: PeerTableModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.peer_model = model
        self.setModel(model)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setAlternatingRowColors(True)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setTabKeyNavigation(False)
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
        # Wide only while someone's "connection lost, waiting up to N s" needs it.
        header.setSectionResizeMode(PeerColumn.STATE, QHeaderView.ResizeMode.ResizeToContents)
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
            button.setToolTip(f"Remove {peer.name} from the lobby (asks first)")
            peer_id = peer.peer_id
            button.clicked.connect(lambda _checked=False, p=peer_id: self._kick(p))
            self.setIndexWidget(self.peer_model.index(row, PeerColumn.KICK), button)

    def kick_buttons(self) -> list[QPushButton]:
        """The Kick buttons, top row first (the order Tab visits them after the table)."""
        buttons = (self.kick_button(row) for row in range(self.peer_model.rowCount()))
        return [button for button in buttons if button is not None]

    def _kick(self, peer_id: int) -> None:
        # Peer ids stay put; rows move, and a resumed guest has a new connection id.
        if self.peer_model.row_of_peer(peer_id) is not None:
            self.kick_requested.emit(peer_id)
