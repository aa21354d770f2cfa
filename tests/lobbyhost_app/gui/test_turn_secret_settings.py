"""The TURN shared secret in Settings: kept in a keyring, never in the settings file, and
handed to guests as minted credentials by the desktop host's embedded server."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import keyring
import pytest
from keyring.backends import fail
from keyrings.alt.file import PlaintextKeyring
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QDialogButtonBox
from pytestqt.qtbot import QtBot

from lobbyhost_app.controllers.secret_store import NO_KEYRING_NOTE, SERVICE, SecretStore
from lobbyhost_app.controllers.settings import Settings
from lobbyhost_app.session_values import HostState
from lobbyhost_app.views.settings_dialog import SettingsDialog
from tests.signalling_server.wsclient import WsClient

from .helpers import running_app, wait_until

SECRET = "correct-horse-battery-staple"


@pytest.fixture
def file_keyring(tmp_path: Path) -> PlaintextKeyring:
    """keyrings.alt's file backend, in the test's own folder (it works with no desktop session)."""
    backend = PlaintextKeyring()
    backend.file_path = str(tmp_path / "keyring.cfg")
    return backend


@pytest.fixture
def no_keyring() -> Iterator[None]:
    """A system with no keyring at all (keyring's own "fail" backend), for the test's length."""
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())  # type: ignore[no-untyped-call]  # untyped upstream
    try:
        yield
    finally:
        keyring.set_keyring(previous)


def type_secret_and_ok(qtbot: QtBot, dialog: SettingsDialog) -> None:
    dialog.turn_url_edit.clear()
    qtbot.keyClicks(dialog.turn_url_edit, "turn:turn.example.org:3478")
    qtbot.keyClicks(dialog.turn_secret_edit, SECRET)
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    qtbot.mouseClick(ok, Qt.MouseButton.LeftButton)


def test_the_turn_secret_goes_to_the_keyring_and_never_into_the_settings_file(
    qtbot: QtBot, settings_store: QSettings, file_keyring: PlaintextKeyring
) -> None:
    """Typed in Settings, the secret is stored in the keyring, read back by a fresh Settings, and absent from the INI file."""
    settings = Settings(settings_store, secrets=SecretStore(file_keyring))
    dialog = SettingsDialog(settings)
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.turn_secret_edit.echoMode() is dialog.turn_secret_edit.EchoMode.Password
    assert not dialog.turn_secret_note.isVisible()
    type_secret_and_ok(qtbot, dialog)
    assert dialog.result() == SettingsDialog.DialogCode.Accepted
    assert file_keyring.get_password(SERVICE, "turn_secret") == SECRET
    settings_store.sync()
    assert SECRET not in Path(settings_store.fileName()).read_text()
    fresh = Settings(
        QSettings(settings_store.fileName(), QSettings.Format.IniFormat),
        secrets=SecretStore(file_keyring),
    )
    loaded = fresh.load()
    assert loaded.turn_secret == SECRET
    assert SECRET not in repr(loaded)
    (server,) = loaded.turn_secrets()
    assert server.urls == ("turn:turn.example.org:3478",) and server.secret == SECRET
    assert loaded.ice_settings().servers == ()  # the TURN URL goes with the secret, not bare


def test_without_a_keyring_the_dialog_says_the_secret_lasts_until_quitting(
    qtbot: QtBot, settings_store: QSettings, no_keyring: None
) -> None:
    """No keyring on the system: a visible note says the secret is kept only until LobbyHost quits; it still works for this run."""
    settings = Settings(settings_store)
    dialog = SettingsDialog(settings)
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.turn_secret_note.isVisible()
    assert dialog.turn_secret_note.text() == NO_KEYRING_NOTE
    type_secret_and_ok(qtbot, dialog)
    assert settings.load().turn_secret == SECRET
    assert SECRET not in Path(settings_store.fileName()).read_text()


def test_a_secret_without_a_turn_server_is_refused(
    qtbot: QtBot, settings_store: QSettings, file_keyring: PlaintextKeyring
) -> None:
    """A shared secret with no TURN server to use it for is explained; nothing is saved."""
    settings = Settings(settings_store, secrets=SecretStore(file_keyring))
    dialog = SettingsDialog(settings)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.keyClicks(dialog.turn_secret_edit, SECRET)
    qtbot.mouseClick(
        dialog.buttons.button(QDialogButtonBox.StandardButton.Ok), Qt.MouseButton.LeftButton
    )
    assert "needs the TURN server" in dialog.error_label.text()
    assert file_keyring.get_password(SERVICE, "turn_secret") is None


async def test_the_desktop_host_hands_guests_credentials_minted_from_the_secret(
    qtbot: QtBot, settings_store: QSettings
) -> None:
    """With a TURN server and its secret in Settings, a guest of the window's lobby gets that TURN server with credentials minted for it."""
    async with running_app(settings_store) as parts:
        parts.settings.update(turn_url="turn:127.0.0.1:3478", turn_secret=SECRET)
        qtbot.mouseClick(parts.window.host_view.open_button, Qt.MouseButton.LeftButton)
        await wait_until(lambda: parts.host.state is HostState.OPEN, parts.host.state_changed)
        parts.host.set_auto_accept(True)
        assert parts.host.server_url is not None and parts.host.code is not None
        joiner = await WsClient.open(parts.host.server_url, "127.0.0.2")
        try:
            await joiner.act("join_lobby", lobby_id=parts.host.code, name="Bob")
            await joiner.expect("join_requested")
            accepted = await joiner.expect("request_accepted")
        finally:
            await joiner.close()
        (turn,) = accepted["ice_servers"]
        assert turn["urls"] == ["turn:127.0.0.1:3478"]
        expiry, _, who = turn["username"].partition(":")
        assert int(expiry) > time.time() and who == accepted["connection_id"]
        assert urlsplit(parts.host.server_url).hostname == "127.0.0.1"


def test_settings_without_a_secret_never_ask_the_keyring(
    settings_store: QSettings, file_keyring: PlaintextKeyring
) -> None:
    """Until a secret was saved, loading settings leaves the keyring alone (no unlock prompt at start-up)."""
    file_keyring.set_password(SERVICE, "turn_secret", "left by someone else")
    assert Settings(settings_store, secrets=SecretStore(file_keyring)).load().turn_secret == ""
