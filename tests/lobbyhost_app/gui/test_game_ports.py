"""The "Game ports" panels clicked in the real window, with real guests and real sockets."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator
from pathlib import Path

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QGuiApplication
from pytestqt.qtbot import QtBot

from lobbyhost_app.models.game_ports import ForwardColumn, SharedPortColumn
from lobbyhost_app.net.forwards import Forward, SharedPort, Transport
from lobbyhost_app.net.game_ports import GuestGamePorts, HostGamePorts
from lobbyhost_app.net.guest import GuestSession
from lobbyhost_app.net.signalling import SignallingClient
from lobbyhost_app.session_values import GuestPhase
from lobbyhost_app.views.game_ports_panel import HostGamePortsPanel
from tests.lobbyhost_app.net.recorder import Recorder

from .helpers import LOOPBACK, hosting, phase_is, running_app, wait_until
from .test_join_window import fill_and_join, real_host, show_join_tab, wait_phase

REPOSITORY = Path(__file__).resolve().parents[3]


@contextlib.asynccontextmanager
async def echo_server() -> AsyncIterator[int]:
    """A TCP server on 127.0.0.1 that echoes what it reads; yields its port."""

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    try:
        yield int(server.sockets[0].getsockname()[1])
    finally:
        server.close()


async def echo_through(address: str, payload: bytes) -> bytes:
    host, _, port = address.rpartition(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(payload)
    async with asyncio.timeout(10):
        got = await reader.readexactly(len(payload))
    writer.close()
    return got


def share(qtbot: QtBot, panel: HostGamePortsPanel, port: int, label: str, udp: bool) -> None:
    """Type a port and a game name, pick the protocol, click Share port."""
    panel.port_spin.clear()
    qtbot.keyClicks(panel.port_spin, str(port))
    panel.protocol_combo.setCurrentIndex(1 if udp else 0)
    qtbot.keyClicks(panel.label_edit, label)
    qtbot.mouseClick(panel.add_button, Qt.MouseButton.LeftButton)


def cell(panel: HostGamePortsPanel, row: int, column: SharedPortColumn) -> str:
    return str(panel.model.index(row, column).data())


async def test_host_shares_a_port_a_guest_uses_and_sees_its_traffic(
    qtbot: QtBot, settings_store: QSettings
) -> None:
    """Share port clicked: the guest gets a listener, traffic shows on the row; Stop sharing closes it."""
    async with echo_server() as game_port, hosting(qtbot, settings_store) as harness:
        panel = harness.view.game_ports_panel
        share(qtbot, panel, game_port, "Echo", udp=False)
        assert panel.model.rowCount() == 1
        assert cell(panel, 0, SharedPortColumn.PORT) == str(game_port)
        assert cell(panel, 0, SharedPortColumn.PROTOCOL) == "TCP"
        assert cell(panel, 0, SharedPortColumn.LABEL) == "Echo"
        share(qtbot, panel, game_port, "Again", udp=False)  # the same port twice: refused
        assert panel.model.rowCount() == 1
        assert panel.error_label.text() == f"Port {game_port}/tcp is shared already."
        panel.label_edit.clear()
        share(qtbot, panel, 27960, "Arena", udp=True)
        assert cell(panel, 1, SharedPortColumn.PROTOCOL) == "UDP"

        signalling = SignallingClient(harness.url)
        await signalling.connect()
        session = GuestSession(signalling, LOOPBACK, ping_interval=0.5)
        events: Recorder[object] = Recorder()
        session.add_listener(events)
        forwards: Recorder[Forward] = Recorder()
        closed: Recorder[Forward] = Recorder()
        GuestGamePorts(session, local_ports={game_port: 0}).add_forward_listener(forwards, closed)
        try:
            await session.join(harness.code, "Bob")
            await wait_until(
                lambda: bool(harness.view.request_list.cards),
                harness.controller.requests.rowsInserted,
            )
            harness.click(harness.view.request_list.cards[0].accept_button)
            await events.wait_for(phase_is(GuestPhase.CONNECTED))  # type: ignore[arg-type]
            forward = await forwards.wait_for(lambda f: f.shared.port == game_port)
            assert forward.shared == SharedPort(game_port, Transport.TCP, "Echo")
            assert await echo_through(forward.address, b"ping" * 1000) == b"ping" * 1000
            await wait_until(
                lambda: "3.9 KB" in cell(panel, 0, SharedPortColumn.TRAFFIC),
                harness.controller.game_ports.traffic_changed,
            )

            panel.table.selectRow(0)
            assert panel.remove_button.isEnabled()
            qtbot.mouseClick(panel.remove_button, Qt.MouseButton.LeftButton)
            assert panel.model.rowCount() == 1
            assert cell(panel, 0, SharedPortColumn.PORT) == "27960"
            gone = await closed.wait_for(lambda f: f.shared.port == game_port)
            assert gone == forward
        finally:
            await session.leave()


async def test_join_tab_shows_the_address_to_give_the_game_copies_it_and_counts_traffic(
    qtbot: QtBot, settings_store: QSettings
) -> None:
    """On the Join tab, the host's shared port shows as a local address; Copy puts it on the clipboard; traffic counts."""
    async with (
        echo_server() as game_port,
        real_host(auto_accept=True) as host,
        running_app(settings_store) as parts,
    ):
        HostGamePorts(host.session, [SharedPort(game_port, Transport.TCP, "Echo")])
        view = show_join_tab(qtbot, parts)
        panel = view.game_ports_panel
        assert not panel.copy_button.isEnabled()
        fill_and_join(qtbot, view, host.url, host.code, "Zoe")
        await wait_phase(parts, GuestPhase.CONNECTED)
        controller = parts.guest.game_ports
        await wait_until(lambda: panel.model.rowCount() == 1, controller.forwards_changed)
        address = str(panel.model.index(0, ForwardColumn.ADDRESS).data())
        assert address.startswith("127.0.0.1:")
        assert panel.model.index(0, ForwardColumn.LABEL).data() == "Echo"
        assert panel.model.index(0, ForwardColumn.HOST_PORT).data() == f"{game_port}/TCP"
        assert address in panel.hint_label.text()
        QGuiApplication.clipboard().clear()
        qtbot.mouseClick(panel.copy_button, Qt.MouseButton.LeftButton)
        assert QGuiApplication.clipboard().text() == address

        assert await echo_through(address, b"x" * 5000) == b"x" * 5000
        await wait_until(
            lambda: "4.9 KB" in str(panel.model.index(0, ForwardColumn.TRAFFIC).data()),
            controller.traffic_changed,
        )


#: Prints the shared ports a fresh program reads from the INI file named by argv[1].
_LOAD_PORTS = """
import sys
from PySide6.QtCore import QSettings
from lobbyhost_app.controllers.settings import Settings
store = QSettings(sys.argv[1], QSettings.Format.IniFormat)
print("|".join(str(port) for port in Settings(store).shared_ports()))
"""


async def test_shared_ports_are_remembered_for_the_next_run(
    qtbot: QtBot, settings_store: QSettings
) -> None:
    """Ports shared in the panel (labels with spaces too) are there again in a new process and a new window."""
    async with running_app(settings_store) as parts:
        panel = parts.window.host_view.game_ports_panel
        share(qtbot, panel, 25565, "Minecraft Java", udp=False)
        share(qtbot, panel, 27960, "", udp=True)
    path = settings_store.fileName()
    done = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _LOAD_PORTS, path, stdout=asyncio.subprocess.PIPE, cwd=REPOSITORY
    )
    out, _ = await done.communicate()
    assert out.decode().strip() == "25565/tcp=Minecraft Java|27960/udp"
    async with running_app(QSettings(path, QSettings.Format.IniFormat)) as parts:
        model = parts.window.host_view.game_ports_panel.model
        assert [model.port_at(row) for row in range(model.rowCount())] == [
            SharedPort(25565, Transport.TCP, "Minecraft Java"),
            SharedPort(27960, Transport.UDP),
        ]


async def test_the_host_panel_shows_where_a_guests_server_is_reached(
    qtbot: QtBot, settings_store: QSettings
) -> None:
    """A guest sharing its listen server: the host's panel shows the local address that reaches it, until the guest leaves."""
    async with echo_server() as guest_port, hosting(qtbot, settings_store) as harness:
        panel = harness.view.game_ports_panel
        assert not panel.guest_servers_label.isVisibleTo(panel)
        signalling = SignallingClient(harness.url)
        await signalling.connect()
        session = GuestSession(signalling, LOOPBACK, ping_interval=0.5)
        events: Recorder[object] = Recorder()
        session.add_listener(events)
        GuestGamePorts(session, shared=[SharedPort(guest_port, Transport.TCP, "Listen server")])
        await session.join(harness.code, "Bob")
        await wait_until(
            lambda: bool(harness.view.request_list.cards),
            harness.controller.requests.rowsInserted,
        )
        harness.click(harness.view.request_list.cards[0].accept_button)
        controller = harness.controller.game_ports
        await wait_until(lambda: bool(controller.guest_forwards), controller.guest_forwards_changed)
        forward = controller.guest_forwards[0]
        assert panel.guest_servers_label.isVisibleTo(panel)
        assert panel.guest_servers_label.text() == (
            f"Listen server shared by a guest ({guest_port}/tcp): {forward.address}"
        )
        assert await echo_through(forward.address, b"hello guest") == b"hello guest"
        await session.leave()
        await wait_until(lambda: not controller.guest_forwards, controller.guest_forwards_changed)
        assert not panel.guest_servers_label.isVisibleTo(panel)
