"""Input that can never work is refused where it is typed, and failures read as sentences."""

from __future__ import annotations

import errno
import os
import socket

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QDialogButtonBox
from pytestqt.qtbot import QtBot

from lobbyhost_app.controllers.base import listen_error_message
from lobbyhost_app.controllers.settings import Settings
from lobbyhost_app.net.errors import ListenError
from lobbyhost_app.views.settings_dialog import SettingsDialog
from tests.ci import cannot_run
from tests.conftest import NETNS_ENV

from .helpers import running_app, wait_until
from .test_join_window import fill_and_join, show_join_tab


def settings_dialog(qtbot: QtBot, store: QSettings) -> SettingsDialog:
    dialog = SettingsDialog(Settings(store))
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def click_ok(qtbot: QtBot, dialog: SettingsDialog) -> None:
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    qtbot.mouseClick(ok, Qt.MouseButton.LeftButton)


def test_a_remote_server_url_with_a_space_is_refused(
    qtbot: QtBot, settings_store: QSettings
) -> None:
    """Settings refuses a remote server URL with a space in it, says so, and saves nothing."""
    dialog = settings_dialog(qtbot, settings_store)
    before = dialog.settings.load()
    qtbot.mouseClick(dialog.remote_check, Qt.MouseButton.LeftButton)
    qtbot.keyClicks(dialog.remote_url_edit, "wss://lobby example.org/")
    click_ok(qtbot, dialog)
    assert dialog.isVisible() and dialog.error_label.isVisible()
    assert "has a space in it" in dialog.error_label.text()
    assert dialog.settings.load() == before


@pytest.mark.parametrize(
    ("typed", "complaint"),
    [
        ("192.168.1.300", "'192.168.1.300' is not an IP address."),
        ("127.0.0.1:8765", "(put the port in the Port field)"),
        ("my computer", "'my computer' is not an IP address or a host name"),
    ],
)
def test_a_listen_address_that_cannot_resolve_is_refused(
    qtbot: QtBot, settings_store: QSettings, typed: str, complaint: str
) -> None:
    """Settings refuses a listen address that is neither an IP address nor a name; nothing saved."""
    dialog = settings_dialog(qtbot, settings_store)
    before = dialog.settings.load()
    dialog.listen_host_edit.clear()
    qtbot.keyClicks(dialog.listen_host_edit, typed)
    click_ok(qtbot, dialog)
    assert dialog.isVisible() and dialog.error_label.isVisible()
    assert complaint in dialog.error_label.text()
    assert dialog.settings.load() == before


def test_a_listen_address_that_resolves_is_saved(qtbot: QtBot, settings_store: QSettings) -> None:
    """A name that resolves (localhost, from /etc/hosts) and IPv6 in brackets are taken."""
    dialog = settings_dialog(qtbot, settings_store)
    dialog.listen_host_edit.clear()
    qtbot.keyClicks(dialog.listen_host_edit, "localhost")
    click_ok(qtbot, dialog)
    assert dialog.settings.load().listen_host == "localhost"


async def test_an_unreachable_server_is_a_sentence_without_errno_text(
    qtbot: QtBot, settings_store: QSettings
) -> None:
    """Joining a port nobody listens on says so in words; no "[Errno 111] Connect call failed"."""
    with socket.socket() as probe:  # bound, never listening: connections are refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        async with running_app(settings_store) as parts:
            view = show_join_tab(qtbot, parts)
            fill_and_join(qtbot, view, f"127.0.0.1:{port}", "K7QX2M", "Zoe")
            await wait_until(view.error_banner.isVisible, parts.guest.error_occurred)
    assert view.error_banner.text() == (
        f"Cannot reach the signalling server at ws://127.0.0.1:{port}/: nothing is listening "
        "on that port (is LobbyHost running there, and is the port right?)."
    )


async def test_listening_on_a_name_that_does_not_resolve_is_a_sentence(
    qtbot: QtBot, settings_store: QSettings
) -> None:
    """A hand-edited listen address that resolves nowhere is explained, not "Name or service not known"."""
    # Spaces make the resolver refuse the name itself: no DNS query leaves the machine.
    Settings(settings_store).update(listen_host="no such host")
    async with running_app(settings_store) as parts:
        view = parts.window.host_view
        qtbot.mouseClick(view.open_button, Qt.MouseButton.LeftButton)
        await wait_until(view.error_banner.isVisible, parts.host.error_occurred)
        assert view.error_banner.text() == (
            "The listen address 'no such host' is not a name this computer can resolve; "
            "change it in Settings (0.0.0.0 listens on every interface)."
        )


@pytest.mark.parametrize(
    "error",
    [
        OSError(errno.EAFNOSUPPORT, "Address family not supported by protocol"),
        OSError(errno.EINVAL, "Invalid argument"),
        socket.gaierror(socket.EAI_NONAME, "Name or service not known"),
    ],
)
def test_listen_errors_never_end_in_the_systems_text(error: OSError) -> None:
    """Whatever the system said, the sentence (window and headless) ends in words of our own."""
    assert error.strerror is not None
    for text in (listen_error_message(error, "::1", 8765), str(ListenError("::1", 8765, error))):
        assert "Errno" not in text
        assert error.strerror not in text


async def test_an_unreachable_private_address_says_it_only_works_on_the_hosts_network(
    qtbot: QtBot, settings_store: QSettings
) -> None:
    """Joining a private address that cannot be reached says why: it only works on the host's own network."""
    if not os.environ.get(NETNS_ENV):
        # Outside the suite's loopback-only namespace this would try a real LAN address.
        cannot_run("needs the loopback-only network namespace the suite makes as root")
    async with running_app(settings_store) as parts:
        view = show_join_tab(qtbot, parts)
        fill_and_join(qtbot, view, "http://192.168.1.20:8765/join/K7QX2M", "", "Zoe")
        await wait_until(view.error_banner.isVisible, parts.guest.error_occurred)
    assert view.error_banner.text().startswith(
        "Cannot reach the signalling server at ws://192.168.1.20:8765/: "
    )
    assert "192.168.1.20 is a private address: it only works on the host's own network" in (
        view.error_banner.text()
    )
