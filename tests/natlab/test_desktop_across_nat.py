"""The desktop host window in the lab: a browser guest from another home, and the router's answer.

The window (pytest-qt on qasync) runs in this process, moved into the lab's
host machine (``Lab.inside``), so its server, signalling and WebRTC sockets are
that machine's. Debian's chromium runs inside the guest's machine, started by
Playwright through a script that enters that namespace.
"""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Browser
from PySide6.QtCore import QSettings
from pytestqt.qtbot import QtBot

from lobbyhost_app.controllers.settings import Settings
from lobbyhost_app.net.port_mapping import PortMappingStatus
from lobbyhost_app.session_values import LinkState
from tests.browser.harness import CHROMIUM, chromium, guest_page
from tests.ci import cannot_run
from tests.lobbyhost_app.gui.helpers import Hosting, hosting, wait_until

from .lab import Lab, Machine

#: A handshake across NAT, TURN and the relay delay included.
CONNECT_S = 30.0


def lab_settings(path: Path, machine: Machine, **changes: object) -> QSettings:
    """Host settings for a window on ``machine``: ICE on its address, no ICE servers of its own."""
    store = QSettings(str(path), QSettings.Format.IniFormat)
    values: dict[str, object] = {
        "display_name": "Ann",
        "ice_allowed_addresses": (machine.address,),
        "stun_urls": (),
        "turn_url": "",
    }
    Settings(store).update(**(values | changes))
    return store


async def join_accept_and_connect(h: Hosting, browser: Browser, link: str) -> None:
    """Bob opens ``link``, the host clicks Accept, and both see a direct (srflx) connection."""
    async with guest_page(browser, link) as bob:
        await bob.join("Bob")
        await bob.expect_status("Waiting for the host")
        cards = h.view.request_list
        await wait_until(
            lambda: any(card.name_label.text() == "Bob" for card in cards.cards),
            h.controller.requests.rowsInserted,
        )
        h.click(cards.cards[0].accept_button)
        await bob.expect_status("Connected$", within=CONNECT_S)
        model = h.controller.peers
        await wait_until(
            lambda: any(p.stats.state is LinkState.CONNECTED for p in model.peers()),
            model.rowsInserted,
            model.dataChanged,
            within=CONNECT_S,
        )
        [peer] = model.peers()
        assert peer.stats.route == "srflx"
        bob.assert_clean()


async def test_browser_guest_in_another_home_joins_the_window_through_a_public_server(
    qtbot: QtBot, cone_lab: Lab, tmp_path: Path
) -> None:
    """Chromium behind the guest's NAT opens the window's invite link (a cloud server), is accepted with a click and connects directly."""
    if not CHROMIUM.exists():
        cannot_run(f"Debian's chromium is missing at {CHROMIUM}")
    assert cone_lab.turn is not None
    server = cone_lab.start_signalling_server(cone_lab.turn, port=8443)
    store = lab_settings(
        tmp_path / "host.ini",
        cone_lab.host,
        use_remote_server=True,
        remote_server_url=server,
    )
    browser_in_guest_home = cone_lab.program_inside(cone_lab.guest, str(CHROMIUM))
    with cone_lab.inside(cone_lab.host):
        async with hosting(qtbot, store) as h, chromium(browser_in_guest_home) as browser:
            link = h.view.invite_edit.text()
            assert link == f"http://{cone_lab.cloud.address}:8443/join/{h.code}"
            await join_accept_and_connect(h, browser, link)


async def test_window_shows_the_port_opened_on_the_router(
    qtbot: QtBot, cone_lab: Lab, tmp_path: Path
) -> None:
    """Opening a lobby on 0.0.0.0 behind a UPnP router shows 'Port N opened on your router' under the lobby controls."""
    store = lab_settings(tmp_path / "host.ini", cone_lab.host, listen_host="0.0.0.0", listen_port=0)
    with cone_lab.inside(cone_lab.host):
        async with hosting(qtbot, store) as h:
            line = h.view.port_mapping_line
            mapped = h.controller.port_mapping_changed
            await wait_until(lambda: "opened" in line.text(), mapped, within=15)
            server = h.controller.embedded_server
            assert server is not None
            assert line.text() == f"Port {server.port} opened on your router"
            assert line.isVisible()
            assert ("TCP", server.port) in cone_lab.forwarded_ports(cone_lab.host_router)
            h.close_lobby()
            await wait_until(lambda: "closed" in line.text(), mapped, within=15)
            assert ("TCP", server.port) not in cone_lab.forwarded_ports(cone_lab.host_router)


async def test_window_tells_what_to_do_when_the_router_refuses(
    qtbot: QtBot, cone_lab: Lab, tmp_path: Path
) -> None:
    """Behind a router that refuses, the line reads 'Router refused: forward TCP N by hand, or use a public server'."""
    store = lab_settings(
        tmp_path / "host.ini", cone_lab.guest, listen_host="0.0.0.0", listen_port=0
    )
    with cone_lab.inside(cone_lab.guest):
        async with hosting(qtbot, store) as h:
            line = h.view.port_mapping_line
            await wait_until(
                lambda: line.text().startswith("Router refused"),
                h.controller.port_mapping_changed,
                within=15,
            )
            server = h.controller.embedded_server
            assert server is not None
            assert line.text() == (
                f"Router refused: forward TCP {server.port} by hand, or use a public server"
            )
            assert line.toolTip().startswith("The router said: ")
            mapping = h.controller.port_mapping_state
            assert mapping is not None and mapping.status is PortMappingStatus.REFUSED


async def test_browser_guest_in_another_home_joins_by_the_router_link_the_window_shows(
    qtbot: QtBot, cone_lab: Lab, tmp_path: Path
) -> None:
    """With the port opened on a UPnP router, the window's invite link carries the router's address; Chromium in the other home opens it and connects directly through STUN."""
    if not CHROMIUM.exists():
        cannot_run(f"Debian's chromium is missing at {CHROMIUM}")
    assert cone_lab.turn is not None
    store = lab_settings(
        tmp_path / "host.ini",
        cone_lab.host,
        listen_host="0.0.0.0",
        listen_port=0,
        stun_urls=(cone_lab.turn.stun_url,),
    )
    browser_in_guest_home = cone_lab.program_inside(cone_lab.guest, str(CHROMIUM))
    router = cone_lab.host_router
    with cone_lab.inside(cone_lab.host):
        async with hosting(qtbot, store) as h, chromium(browser_in_guest_home) as browser:
            await wait_until(
                lambda: router.wan_address in h.view.invite_edit.text(),
                h.controller.port_mapping_changed,
                h.controller.invite.link_changed,
                within=15,
            )
            server = h.controller.embedded_server
            assert server is not None
            link = h.view.invite_edit.text()
            assert link == f"http://{router.wan_address}:{server.port}/join/{h.code}"
            await join_accept_and_connect(h, browser, link)
