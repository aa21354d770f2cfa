"""Take the README's screenshot of the host window: a peer connected, one lost, a request waiting.

Run from the repository root (``apt-get install xvfb xauth`` for ``--xvfb``)::

    .venv/bin/python resources/screenshots/host_window.py --xvfb [OUTPUT.png]

With ``--xvfb`` the window is drawn by a real X server (Xvfb, through
``xvfb-run``, Qt's xcb platform); without it, Qt's offscreen platform draws it
and no display is needed at all. Either way ``QWidget.grab()`` takes the picture.
Everything stays on loopback: the embedded server listens on 127.0.0.1, the
guests are real aiortc peers with ICE limited to 127.0.0.1 and no ICE servers.
Settings live in a temporary INI file, never in the user's own.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

if "--xvfb" not in sys.argv:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import qasync

# The staging helpers are the GUI tests' own (run from a source checkout).
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from lobbyhost_app.app import AppParts, build, create_application, shutdown
from lobbyhost_app.net.guest import GuestPhase, GuestSession, GuestStatus
from lobbyhost_app.net.ice import IceSettings, install_address_allow_list
from lobbyhost_app.net.link import LinkState
from lobbyhost_app.net.signalling import SignallingClient
from tests.lobbyhost_app.gui.helpers import wait_until
from tests.qt_fixtures import loopback_settings

OUTPUT = Path(__file__).with_name("host-window.png")
LOOPBACK = IceSettings(allowed_addresses=("127.0.0.1",))
WAIT_S = 15.0


async def guest_joins(url: str, code: str, name: str) -> tuple[GuestSession, SignallingClient]:
    signalling = SignallingClient(url, reconnect=False)
    await signalling.connect()
    session = GuestSession(signalling, LOOPBACK, ping_interval=0.5)
    await session.join(code, name)
    return session, signalling


async def wait_connected(session: GuestSession) -> None:
    connected: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def on_event(event: object) -> None:
        connected_now = isinstance(event, GuestStatus) and event.phase is GuestPhase.CONNECTED
        if connected_now and not connected.done():
            connected.set_result(None)

    session.add_listener(on_event)
    if session.status.phase is not GuestPhase.CONNECTED:
        async with asyncio.timeout(WAIT_S):
            await connected


async def accept_next(parts: AppParts, session: GuestSession) -> None:
    """Accept the one request waiting; returns once that guest's link is connected."""
    host = parts.host
    await wait_until(lambda: host.requests.rowCount() == 1, host.requests.rowsInserted)
    host.accept(host.requests.connection_ids()[0])
    await wait_connected(session)


async def stage(parts: AppParts, output: Path) -> None:
    """Open a lobby, connect Bob, lose Dana, leave Carol waiting, chat a little, grab the window."""
    window, host = parts.window, parts.host
    window.resize(1280, 800)
    window.show()
    window.host_view.max_guests_spin.setValue(4)
    await host.open_lobby(max_guests=4)
    assert host.server_url is not None and host.code is not None
    guests = []
    try:
        bob, bob_signalling = await guest_joins(host.server_url, host.code, "Bob")
        guests.append((bob, bob_signalling))
        await accept_next(parts, bob)
        dana, dana_signalling = await guest_joins(host.server_url, host.code, "Dana")
        guests.append((dana, dana_signalling))
        await accept_next(parts, dana)
        peers = host.peers
        await wait_until(
            lambda: (
                peers.rowCount() == 2
                and all(peer.stats.state is LinkState.CONNECTED for peer in peers.peers())
                and all(peer.stats.rtt_ms is not None for peer in peers.peers())
            ),
            peers.rowsInserted,
            peers.dataChanged,
        )
        # Dana's page goes away: her row waits for her to come back.
        await dana_signalling.close()
        await wait_until(
            lambda: any(peer.connection_lost for peer in peers.peers()), peers.dataChanged
        )
        bob.send_chat("Hi Ann! Ready when you are.")
        await wait_until(
            lambda: "Ready when you are" in window.host_view.log_panel.plain_text(),
            host.chat_received,
        )
        host.send_chat("Welcome Bob, waiting for one more.")
        carol, carol_signalling = await guest_joins(host.server_url, host.code, "Carol")
        guests.append((carol, carol_signalling))
        await wait_until(lambda: host.requests.rowCount() == 1, host.requests.rowsInserted)
        output.parent.mkdir(parents=True, exist_ok=True)
        if not window.grab().save(str(output)):
            raise RuntimeError(f"could not write {output}")
        print(f"saved {output}")
    finally:
        for session, signalling in guests:
            await session.leave()
            await signalling.close()


def rerun_under_xvfb(argv: list[str]) -> int:
    """Run this script again inside a fresh Xvfb display, with Qt's xcb platform."""
    xvfb_run = shutil.which("xvfb-run")
    if xvfb_run is None:
        print("--xvfb needs xvfb-run: apt-get install xvfb xauth", file=sys.stderr)
        return 2
    env = {**os.environ, "QT_QPA_PLATFORM": "xcb", "LOBBYHOST_UNDER_XVFB": "1"}
    screen = ["-s", "-screen 0 1280x900x24"]
    command = [xvfb_run, "-a", *screen, sys.executable, argv[0], *argv[1:]]
    return subprocess.run(command, env=env, check=False).returncode  # noqa: S603


def main(argv: list[str]) -> int:
    if "--xvfb" in argv:
        argv = [arg for arg in argv if arg != "--xvfb"]
        if not os.environ.get("LOBBYHOST_UNDER_XVFB"):
            return rerun_under_xvfb(argv)
    output = Path(argv[1]) if len(argv) > 1 else OUTPUT
    install_address_allow_list(LOOPBACK.allowed_addresses)  # host and guests: 127.0.0.1 only
    app = create_application(argv[:1])
    with tempfile.TemporaryDirectory(prefix="lobbyhost-shot-") as tmp:
        parts = build(loopback_settings(Path(tmp) / "settings.ini"))

        async def run() -> None:
            try:
                await stage(parts, output)
            finally:
                await shutdown(parts)
                parts.window.allow_close()
                parts.window.close()

        with asyncio.Runner(loop_factory=lambda: qasync.QEventLoop(app)) as runner:
            runner.run(run())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
