"""The item models alone: rows, roles and batched updates."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from lobbyhost_app.models.join_requests import JoinRequestsModel, format_waiting
from lobbyhost_app.models.peers import PeerColumn, PeerTableModel, format_bytes, lost_state_text
from lobbyhost_app.net.host import JoinRequested, PeerUpdated
from lobbyhost_app.net.link import LinkState, LinkStats


def stats(state: LinkState = LinkState.CONNECTED, rtt: float | None = 12.345) -> LinkStats:
    return LinkStats(state, rtt, "host", 2048, 512, 1_700_000_000.0)


def update(peer_id: int, connection_id: str, **kwargs: Any) -> PeerUpdated:
    return PeerUpdated(connection_id, f"P{peer_id}", peer_id, stats(**kwargs))


class Counter:
    """Counts a signal's emissions."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def __call__(self, *args: Any) -> None:
        self.calls.append(args)


def test_waiting_time_reads_naturally() -> None:
    """Seconds under a minute, then minutes and zero-padded seconds."""
    assert format_waiting(4.9) == "4 s"
    assert format_waiting(65) == "1 min 05 s"
    assert format_waiting(-3) == "0 s"


def test_bytes_read_naturally() -> None:
    """Bytes, then KB/MB with one decimal."""
    assert format_bytes(512) == "512 B"
    assert format_bytes(1536) == "1.5 KB"
    assert format_bytes(5 * 1024 * 1024) == "5.0 MB"


def test_join_requests_model_lists_requests_in_order_with_waiting_time(qtbot: QtBot) -> None:
    """Rows are added once, removed by connection id, and say how long each has waited."""
    now = [1000.0]
    model = JoinRequestsModel(clock=lambda: now[0])
    model.add_request(JoinRequested("c1", "Bob", 990.0))
    model.add_request(JoinRequested("c2", "Eve", 999.0))
    model.add_request(JoinRequested("c1", "Bob", 990.0))  # a repeat is ignored
    assert model.rowCount() == 2
    assert model.index(0).data() == "Bob"
    assert model.index(0).data(JoinRequestsModel.WaitingRole) == "10 s"
    assert model.index(1).data(JoinRequestsModel.ConnectionIdRole) == "c2"
    now[0] = 1070.0
    assert model.index(0).data(JoinRequestsModel.WaitingRole) == "1 min 20 s"
    model.remove_request("c1")
    model.remove_request("unknown")
    assert model.connection_ids() == ["c2"]
    model.clear()
    assert model.rowCount() == 0


def test_peer_batch_inserts_new_rows_once_and_changes_in_one_signal(qtbot: QtBot) -> None:
    """A batch makes one rowsInserted for new peers and one dataChanged for changed ones."""
    model = PeerTableModel()
    inserted, changed = Counter(), Counter()
    model.rowsInserted.connect(inserted)
    model.dataChanged.connect(changed)
    model.apply_updates([update(2, "a"), update(3, "b"), update(4, "c")])
    assert model.rowCount() == 3 and len(inserted.calls) == 1 and changed.calls == []
    model.apply_updates([update(2, "a", rtt=1.0), update(4, "c", rtt=2.0)])
    assert len(inserted.calls) == 1 and len(changed.calls) == 1
    top_left, bottom_right = changed.calls[0][0], changed.calls[0][1]
    assert (top_left.row(), bottom_right.row()) == (0, 2)
    assert model.index(0, PeerColumn.RTT).data() == "1.0"
    assert model.index(2, PeerColumn.RTT).data(PeerTableModel.RawRole) == 2.0


def test_a_resumed_guest_keeps_its_row_under_its_new_connection_id(qtbot: QtBot) -> None:
    """Rows are keyed by peer id: a new connection id updates the row, and removal follows it."""
    model = PeerTableModel()
    model.apply_updates([update(2, "old")])
    model.apply_updates([update(2, "new")])
    assert model.rowCount() == 1
    assert model.peer_id_of("new") == 2 and model.peer_id_of("old") is None
    model.remove_connection("old")
    assert model.rowCount() == 1
    model.remove_connection("new")
    assert model.rowCount() == 0


def test_a_peer_whose_connection_is_lost_counts_down_without_stale_figures(qtbot: QtBot) -> None:
    """A lost peer reads "connection lost, waiting up to N s" counting down, RTT and route dashed; back, it is as before."""
    now = [100.0]
    model = PeerTableModel(clock=lambda: now[0])
    model.apply_updates([update(2, "a"), update(3, "b")])
    changed = Counter()
    model.dataChanged.connect(changed)
    model.mark_connection_lost(3, 30)
    assert len(changed.calls) == 1 and changed.calls[0][0].row() == 1
    cells = [model.index(1, column).data() for column in (PeerColumn.STATE, PeerColumn.RTT)]
    assert cells == ["connection lost, waiting up to 30 s", "\N{EN DASH}"]
    assert model.index(1, PeerColumn.ROUTE).data() == "\N{EN DASH}"
    assert model.index(0, PeerColumn.STATE).data() == "connected"  # the other peer is untouched
    now[0] = 112.5
    assert model.index(1, PeerColumn.STATE).data() == "connection lost, waiting up to 18 s"
    model.apply_updates([update(3, "b", rtt=50.0)])  # link figures arriving meanwhile stay hidden
    assert model.index(1, PeerColumn.RTT).data() == "\N{EN DASH}"
    model.mark_reconnected(3)
    assert model.index(1, PeerColumn.STATE).data() == "connected"
    assert model.index(1, PeerColumn.RTT).data() == "50.0"
    assert lost_state_text(-1) == "connection lost, waiting up to 0 s"


def test_peer_cells_show_readable_values(qtbot: QtBot) -> None:
    """Display text for every column; unknown RTT shows a dash."""
    model = PeerTableModel()
    model.apply_updates([update(7, "x", state=LinkState.CONNECTING, rtt=None)])
    row = [model.index(0, column).data() for column in PeerColumn]
    assert row[: PeerColumn.ROUTE + 1] == ["P7", "7", "connecting", "\N{EN DASH}", "host"]
    assert row[PeerColumn.BYTES_IN] == "2.0 KB" and row[PeerColumn.BYTES_OUT] == "512 B"
    assert model.headerData(PeerColumn.RTT, Qt.Orientation.Horizontal) == "RTT (ms)"
