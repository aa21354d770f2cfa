"""The host window's invite address chooser: which address the link uses, and who it reaches."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QGuiApplication
from pytestqt.qtbot import QtBot

from lobbyhost_app.controllers import host_controller
from lobbyhost_app.controllers.settings import Settings
from lobbyhost_app.invite_address import AddressSource, InviteAddress
from signalling_server import ServerConfig, serve
from tests.coturn import running_coturn

from .helpers import Hosting, hosting, wait_until

#: Stand-ins for this computer's interfaces; nothing ever connects to them.
LAN = InviteAddress("192.168.1.20", AddressSource.INTERFACE, "eth0")
LOOPBACK = InviteAddress("127.0.0.1", AddressSource.INTERFACE, "lo")


@pytest.fixture
def everywhere(settings_store: QSettings, monkeypatch: pytest.MonkeyPatch) -> QSettings:
    """Listening on every interface (of the test's own loopback-only namespace), with a LAN card named."""
    monkeypatch.setattr(host_controller, "interface_addresses", lambda: [LAN, LOOPBACK])
    Settings(settings_store).update(listen_host="0.0.0.0", listen_port=0)
    return settings_store


def port_of(h: Hosting) -> int:
    port = urlsplit(h.url).port
    assert port is not None
    return port


async def test_the_link_starts_on_the_lan_address_labelled_only_on_your_network(
    qtbot: QtBot, everywhere: QSettings
) -> None:
    """Open lobby: the chooser lists every interface, the link uses the LAN one, and says "Only on your network"."""
    async with hosting(qtbot, everywhere) as h:
        chooser = h.view.invite_address_chooser
        combo = chooser.address_combo
        assert [combo.itemText(i) for i in range(combo.count())] == [
            "192.168.1.20 (network interface eth0)",
            "127.0.0.1 (network interface lo)",
        ]
        assert combo.currentIndex() == 0
        link = f"http://192.168.1.20:{port_of(h)}/join/{h.code}"
        assert h.view.invite_edit.text() == link
        assert chooser.reach_label.text() == "Only on your network"
        assert chooser.reach_label.textFormat() is Qt.TextFormat.PlainText


async def test_choosing_another_address_changes_the_link_that_is_copied(
    qtbot: QtBot, everywhere: QSettings
) -> None:
    """Picking loopback in the list: the link, the label and Copy link all follow."""
    async with hosting(qtbot, everywhere) as h:
        chooser = h.view.invite_address_chooser
        qtbot.keyClick(chooser.address_combo, Qt.Key.Key_Down)  # the next entry, as a person would
        link = f"http://127.0.0.1:{port_of(h)}/join/{h.code}"
        assert h.view.invite_edit.text() == link
        assert chooser.reach_label.text() == "Only on this computer"
        h.click(h.view.copy_link_button)
        assert QGuiApplication.clipboard().text() == link
        assert f"Invite link is now {link}" in h.view.log_panel.plain_text()


async def test_a_typed_name_is_used_and_nonsense_is_refused(
    qtbot: QtBot, everywhere: QSettings
) -> None:
    """Typing a DNS name and clicking Use puts it in the link; text that is no address is refused in words."""
    async with hosting(qtbot, everywhere) as h:
        chooser = h.view.invite_address_chooser
        qtbot.keyClicks(chooser.other_edit, "not an address!")
        h.click(chooser.use_button)
        assert "not an IP address or a host name" in chooser.reach_label.text()
        assert h.view.invite_edit.text().startswith("http://192.168.1.20:")
        chooser.other_edit.clear()
        qtbot.keyClicks(chooser.other_edit, "lobby.example.org")
        h.click(chooser.use_button)
        assert h.view.invite_edit.text() == f"http://lobby.example.org:{port_of(h)}/join/{h.code}"
        assert chooser.reach_label.text().startswith("From the internet")
        assert chooser.address_combo.currentText() == "lobby.example.org (typed in)"


async def test_the_routers_address_can_be_offered_and_chosen(
    qtbot: QtBot, everywhere: QSettings
) -> None:
    """The port-mapping seam: an address from the router, added with choose=True, becomes the link."""
    async with hosting(qtbot, everywhere) as h:
        router = InviteAddress("203.0.113.7", AddressSource.ROUTER, "UPnP")
        h.controller.invite.add(router, choose=True)
        chooser = h.view.invite_address_chooser
        assert chooser.address_combo.currentText() == "203.0.113.7 (your router's public address)"
        assert h.view.invite_edit.text() == f"http://203.0.113.7:{port_of(h)}/join/{h.code}"
        assert h.controller.invite_link == h.view.invite_edit.text()


async def test_the_public_address_from_the_stun_server_is_offered(
    qtbot: QtBot, everywhere: QSettings, tmp_path: Path
) -> None:
    """With a STUN server in Settings, the address it sees (127.0.0.1 from a coturn on loopback) joins the list."""
    async with running_coturn(tmp_path, secret="s3cret") as coturn:
        Settings(everywhere).update(stun_urls=(coturn.stun_url,))
        async with hosting(qtbot, everywhere) as h:
            combo = h.view.invite_address_chooser.address_combo
            public = "127.0.0.1 (public address seen by the STUN server)"
            await wait_until(
                lambda: combo.findText(public) >= 0, h.controller.invite.choices_changed
            )
            assert combo.currentIndex() == 0  # offered, not chosen: its port may be closed


async def test_on_a_remote_server_the_link_is_the_servers_and_there_is_nothing_to_choose(
    qtbot: QtBot, settings_store: QSettings
) -> None:
    """Hosting on a remote lobbyhost-server: the link carries its address, the chooser is off, and its reach is said."""
    async with serve(ServerConfig(port=0)) as remote:
        Settings(settings_store).update(use_remote_server=True, remote_server_url=remote.url)
        async with hosting(qtbot, settings_store) as h:
            chooser = h.view.invite_address_chooser
            assert h.view.invite_edit.text() == f"http://127.0.0.1:{remote.port}/join/{h.code}"
            assert not chooser.address_combo.isEnabled() and not chooser.use_button.isEnabled()
            assert chooser.reach_label.text() == "Only on this computer"
