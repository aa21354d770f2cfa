"""ICE settings: explicit servers, a configuration with no side effect, an allow-list installed on purpose."""

from __future__ import annotations

import aioice.ice
import pytest

from lobbyhost_app.net.errors import NetError
from lobbyhost_app.net.ice import (
    IceServer,
    IceSettings,
    address_allow_list,
    install_address_allow_list,
    installed_address_allow_list,
)
from signalling_server.protocol import IceServerInfo


def test_configuration_is_explicit_and_changes_nothing_process_wide() -> None:
    """configuration() lists the server's then the user's servers, once each, and leaves aioice alone."""
    installed = aioice.ice.get_host_addresses
    settings = IceSettings(
        servers=(IceServer(urls=("stun:mine:3478",)), IceServer(urls=("stun:shared:3478",))),
        allowed_addresses=("10.9.8.7",),
    )
    from_server = [
        IceServerInfo(["turn:relay:3478"], username="u", credential="p"),
        IceServerInfo(["stun:shared:3478"]),
    ]
    config = settings.configuration(from_server)
    assert config.iceServers is not None
    assert [(s.urls, s.username, s.credential) for s in config.iceServers] == [
        (["turn:relay:3478"], "u", "p"),
        (["stun:shared:3478"], None, None),
        (["stun:mine:3478"], None, None),
    ]
    assert IceSettings().configuration().iceServers == []  # never aiortc's public fallback
    assert aioice.ice.get_host_addresses is installed
    assert installed_address_allow_list() == ("127.0.0.1",)  # the tests' own, untouched


def test_the_allow_list_is_installed_once_and_put_back() -> None:
    """Installing filters aioice's host addresses; the scoped form puts the previous list back."""
    assert aioice.ice.get_host_addresses(True, False) == ["127.0.0.1"]
    installed = aioice.ice.get_host_addresses
    with address_allow_list(("127.0.0.1", "192.0.2.77")):  # one address this machine lacks
        assert aioice.ice.get_host_addresses is installed  # the same filter, a new list
        assert aioice.ice.get_host_addresses(True, False) == ["127.0.0.1"]
        assert aioice.ice.get_host_addresses(False, True) == []
    assert installed_address_allow_list() == ("127.0.0.1",)
    previous = install_address_allow_list(("127.0.0.1",))
    assert previous == ("127.0.0.1",)


def test_an_allow_list_entry_that_is_not_an_address_changes_nothing() -> None:
    """A bad entry is a NetError, in the settings and at install time, and the list stays as it was."""
    with pytest.raises(NetError, match="not an IP address"):
        IceSettings(allowed_addresses=("eth0",))
    with pytest.raises(NetError, match="not an IP address"):
        install_address_allow_list(("127.0.0.1", "eth0"))
    assert installed_address_allow_list() == ("127.0.0.1",)
