"""HostingService: the embedded server, client and session composed once, on 127.0.0.1."""

from __future__ import annotations

import socket

import pytest

from lobbyhost_app.net.errors import ListenError, NetError
from lobbyhost_app.net.guest import GuestSession
from lobbyhost_app.net.hosting import HostingOptions, HostingService
from lobbyhost_app.net.signalling import SignallingClient
from lobbyhost_app.session_values import (
    GuestEvent,
    GuestPhase,
    GuestStatus,
    HostEvent,
    LobbyOpened,
)
from signalling_server import ServerConfig, serve
from signalling_server.protocol import CloseReason

from ..loopback import LOOPBACK
from .recorder import Recorder


async def test_hosting_runs_server_and_lobby_and_stop_takes_everything_down() -> None:
    """start() serves on 127.0.0.1, a guest connects through it, stop() tells it and stops serving."""
    options = HostingOptions(listen_host="127.0.0.1", listen_port=0, ice=LOOPBACK, auto_accept=True)
    hosting = HostingService(options)
    events: Recorder[HostEvent] = Recorder()
    hosting.add_listener(events)
    await hosting.start()
    try:
        assert hosting.server is not None and hosting.listen == ("127.0.0.1", hosting.server.port)
        assert hosting.client_url == f"ws://127.0.0.1:{hosting.server.port}/"
        opened = await hosting.open_lobby(display_name="Ann")
        assert events.events == [opened]
        signalling = SignallingClient(hosting.client_url, reconnect=False)
        await signalling.connect()
        guest = GuestSession(signalling, LOOPBACK)
        progress: Recorder[GuestEvent] = Recorder()
        guest.add_listener(progress)
        await guest.join(opened.lobby_id, "Bob")
        await progress.wait_for(
            lambda e: isinstance(e, GuestStatus) and e.phase is GuestPhase.CONNECTED
        )
    finally:
        url = hosting.client_url
        await hosting.stop()
    ended = await guest.wait_ended()
    assert (ended.phase, ended.reason) == (GuestPhase.LOBBY_CLOSED, CloseReason.CLOSED_BY_HOST)
    assert hosting.server is None and hosting.client_url is None
    with pytest.raises(NetError, match="cannot reach"):
        await SignallingClient(url or "", reconnect=False, open_timeout=2).connect()
    await signalling.close()


async def test_a_busy_port_is_a_listen_error_and_leaves_nothing_running() -> None:
    """start() on a port in use raises ListenError naming it; no server, no session remain."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        hosting = HostingService(HostingOptions(listen_host="127.0.0.1", listen_port=port))
        with pytest.raises(ListenError, match=f"127.0.0.1:{port}") as raised:
            await hosting.start()
    assert raised.value.port == port
    assert hosting.server is None
    with pytest.raises(NetError, match="not started"):
        hosting.session  # noqa: B018


async def test_a_remote_server_is_used_instead_of_an_embedded_one() -> None:
    """With remote_url, start() serves nothing and the lobby opens on the remote server."""
    async with serve(ServerConfig(host="127.0.0.1", port=0)) as remote:
        hosting = HostingService(HostingOptions(remote_url=remote.url, ice=LOOPBACK))
        await hosting.start()
        opened = await hosting.open_lobby(name="Remote lobby")
        assert isinstance(opened, LobbyOpened)
        assert hosting.server is None and hosting.listen is None
        assert hosting.client_url == remote.url
        assert remote.counters.lobbies == 1
        await hosting.stop()
