"""Public address discovery with a STUN binding request, against a real coturn on 127.0.0.1."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from lobbyhost_app.net.errors import NetError
from lobbyhost_app.net.stun import DEFAULT_STUN_PORT, discover_mapped_address, stun_host_port
from tests.coturn import running_coturn


async def test_a_stun_server_tells_the_address_it_sees(tmp_path: Path) -> None:
    """A binding request to coturn comes back with the address and port it saw: 127.0.0.1 here."""
    async with running_coturn(tmp_path, secret="s3cret") as coturn:
        mapped = await discover_mapped_address(coturn.stun_url)
    assert mapped.address == "127.0.0.1"
    assert 0 < mapped.port < 65536


async def test_no_answer_is_a_net_error_naming_the_server() -> None:
    """A STUN server that never answers (a UDP port nobody reads) ends in NetError, not a hang."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        url = f"stun:127.0.0.1:{silent.getsockname()[1]}"
        with pytest.raises(NetError, match="did not answer"):
            await discover_mapped_address(url, within=0.5)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("stun:stun.example.org", ("stun.example.org", DEFAULT_STUN_PORT)),
        ("stun:stun.example.org:19302", ("stun.example.org", 19302)),
        ("stun:[2001:db8::1]:3478", ("2001:db8::1", 3478)),
        ("STUN:198.51.100.7:3479", ("198.51.100.7", 3479)),
    ],
)
def test_stun_urls_are_read_as_host_and_port(url: str, expected: tuple[str, int]) -> None:
    """stun: URLs with and without a port, IPv6 in brackets, any case of scheme."""
    assert stun_host_port(url) == expected


@pytest.mark.parametrize("url", ["turn:198.51.100.7", "stun:", "stun:host:port", "198.51.100.7"])
def test_what_is_not_a_stun_url_is_refused(url: str) -> None:
    """A TURN URL, no host, a port that is not a number, or no scheme: NetError."""
    with pytest.raises(NetError):
        stun_host_port(url)
