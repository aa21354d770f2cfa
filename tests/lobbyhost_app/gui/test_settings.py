"""Settings: typed values through QSettings, and the dialog that edits them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QDialogButtonBox
from pytestqt.qtbot import QtBot

from lobbyhost_app.app import build
from lobbyhost_app.controllers.settings import AppSettings, Settings
from lobbyhost_app.net.ice import IceServer
from lobbyhost_app.views.settings_dialog import SettingsDialog
from tests.timeouts import scaled

REPOSITORY = Path(__file__).resolve().parents[3]

#: Loads the settings from the INI file named by argv[1] and prints them as JSON.
_LOAD_AND_PRINT = """
import dataclasses, json, sys
from PySide6.QtCore import QSettings
from lobbyhost_app.controllers.settings import Settings
store = QSettings(sys.argv[1], QSettings.Format.IniFormat)
print(json.dumps(dataclasses.asdict(Settings(store).load())))
"""


def load_in_a_new_process(path: str) -> AppSettings:
    """The settings a fresh program reads from the INI file ``path`` (a restart, as users do it)."""
    done = subprocess.run(
        [sys.executable, "-c", _LOAD_AND_PRINT, path],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPOSITORY,
        timeout=scaled(60),
    )
    loaded: dict[str, Any] = json.loads(done.stdout)
    values: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in loaded.items()}
    return AppSettings(**values)


def test_settings_round_trip_through_an_ini_file(qtbot: QtBot, tmp_path: object) -> None:
    """Every field, the display name included, comes back with its type in a new process."""
    path = f"{tmp_path}/round-trip.ini"
    wanted = AppSettings(
        display_name="Ann",
        listen_host="127.0.0.1",
        listen_port=9000,
        use_remote_server=True,
        remote_server_url="wss://lobby.example.org/",
        auto_accept=True,
        max_guests=3,
        stun_urls=("stun:stun.example.org:3478",),
        turn_url="turn:turn.example.org:3478",
        turn_username="u",
        turn_credential="p",
        ice_allowed_addresses=("127.0.0.1", "192.168.1.20"),
        join_server_url="ws://10.0.0.5:8765/",
    )
    Settings(QSettings(path, QSettings.Format.IniFormat)).save(wanted)
    assert Settings(QSettings(path, QSettings.Format.IniFormat)).load() == wanted
    assert load_in_a_new_process(path) == wanted


def test_a_display_name_saved_by_an_older_version_is_kept(tmp_path: Path) -> None:
    """A name an older version left under Qt's reserved General group is read once and kept."""
    path = tmp_path / "older.ini"
    path.write_text("[%General]\ndisplay_name=Ann\n\n[host]\nlisten_port=9000\n")
    assert load_in_a_new_process(str(path)).display_name == "Ann"
    assert "[%General]" not in path.read_text()  # moved to its new key
    again = load_in_a_new_process(str(path))
    assert (again.display_name, again.listen_port) == ("Ann", 9000)


def test_missing_or_broken_values_fall_back_to_defaults(qtbot: QtBot, tmp_path: object) -> None:
    """An empty file gives the defaults (0.0.0.0:8765, no ICE servers); junk ints too."""
    store = QSettings(f"{tmp_path}/broken.ini", QSettings.Format.IniFormat)
    assert Settings(store).load() == AppSettings()
    store.setValue("host/listen_port", "not a number")
    assert Settings(store).load().listen_port == 8765


def test_ice_settings_come_from_stun_turn_and_the_allow_list() -> None:
    """STUN URLs and the TURN server with its credentials become IceServers."""
    ice = AppSettings(
        stun_urls=("stun:a:3478",),
        turn_url="turn:b:3478",
        turn_username="u",
        turn_credential="p",
        ice_allowed_addresses=("127.0.0.1",),
    ).ice_settings()
    assert ice.servers == (
        IceServer(urls=("stun:a:3478",)),
        IceServer(urls=("turn:b:3478",), username="u", credential="p"),
    )
    assert ice.allowed_addresses == ("127.0.0.1",)
    assert AppSettings().ice_settings().servers == ()


def test_settings_dialog_saves_what_was_typed(qtbot: QtBot, settings_store: QSettings) -> None:
    """Typing a name, a port and an allow-list, then OK, saves them."""
    settings = Settings(settings_store)
    dialog = SettingsDialog(settings)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.name_edit.clear()
    qtbot.keyClicks(dialog.name_edit, "Bea")
    dialog.listen_port_spin.clear()
    qtbot.keyClicks(dialog.listen_port_spin, "9100")
    dialog.allowed_edit.clear()
    qtbot.keyClicks(dialog.allowed_edit, "127.0.0.1, 127.0.0.2")
    qtbot.keyClicks(dialog.stun_edit, "stun:stun.example.org:3478")
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    qtbot.mouseClick(ok, Qt.MouseButton.LeftButton)
    saved = settings.load()
    assert saved.display_name == "Bea" and saved.listen_port == 9100
    assert saved.ice_allowed_addresses == ("127.0.0.1", "127.0.0.2")
    assert saved.stun_urls == ("stun:stun.example.org:3478",)
    assert dialog.result() == SettingsDialog.DialogCode.Accepted


def test_settings_dialog_explains_bad_input_and_keeps_it_unsaved(
    qtbot: QtBot, settings_store: QSettings
) -> None:
    """A non-IP in the allow-list is explained in the dialog; nothing is saved."""
    settings = Settings(settings_store)
    before = settings.load()
    dialog = SettingsDialog(settings)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.keyClicks(dialog.allowed_edit, " eth0")
    qtbot.mouseClick(
        dialog.buttons.button(QDialogButtonBox.StandardButton.Ok), Qt.MouseButton.LeftButton
    )
    assert dialog.error_label.isVisible()
    assert "'eth0' is not an IP address" in dialog.error_label.text()
    assert settings.load() == before
    assert dialog.isVisible()


def test_the_menu_opens_settings_without_a_nested_event_loop(
    qtbot: QtBot, settings_store: QSettings
) -> None:
    """LobbyHost > Settings opens the dialog window-modal (open(), not exec()); Cancel saves nothing."""
    parts = build(settings_store)
    qtbot.addWidget(parts.window)
    parts.window.allow_close()
    parts.window.show()
    before = parts.settings.load()
    parts.window.settings_action.trigger()
    dialog = parts.window.settings_dialog
    assert dialog is not None and dialog.isVisible()
    assert dialog.windowModality() is Qt.WindowModality.WindowModal
    qtbot.keyClicks(dialog.name_edit, "zzz")
    cancel = dialog.buttons.button(QDialogButtonBox.StandardButton.Cancel)
    qtbot.mouseClick(cancel, Qt.MouseButton.LeftButton)
    assert not dialog.isVisible()
    assert parts.settings.load() == before
