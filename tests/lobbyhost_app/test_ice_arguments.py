"""``--ice-server`` in both CLIs: a URL without a STUN/TURN scheme is refused where it is typed."""

from __future__ import annotations

import argparse
from collections.abc import Callable

import pytest

from lobbyhost_app import cli, guest_cli
from lobbyhost_app.net.ice import IceServer

PARSERS: dict[str, Callable[[], argparse.ArgumentParser]] = {
    "lobbyhost": cli.build_parser,
    "lobbyhost-guest": guest_cli.build_parser,
}
#: What each CLI needs besides the option under test.
REQUIRED: dict[str, list[str]] = {"lobbyhost": [], "lobbyhost-guest": ["ws://127.0.0.1:1/", "C"]}


@pytest.mark.parametrize("program", PARSERS)
@pytest.mark.parametrize("url", ["stun.example.org:3478", "127.0.0.1:3478", "http://x:1", "turn:"])
def test_an_ice_server_without_a_scheme_is_an_argparse_error(
    program: str, url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Both CLIs exit 2 with usage and a sentence naming the URL and the schemes it needs."""
    with pytest.raises(SystemExit) as exited:
        PARSERS[program]().parse_args([*REQUIRED[program], "--ice-server", url])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: ")
    assert f"{program}: error: argument --ice-server: {url!r} " in err


@pytest.mark.parametrize("program", PARSERS)
def test_stun_and_turn_urls_are_taken(program: str) -> None:
    """stun: and turn: URLs (credentials in the userinfo) still become ICE servers."""
    args = PARSERS[program]().parse_args(
        [
            *REQUIRED[program],
            "--ice-server",
            "stun:127.0.0.1:3478",
            "--ice-server",
            "turn:u:p@127.0.0.1:3478",
        ]
    )
    assert guest_cli.ice_from_arguments(args).servers == (
        IceServer(urls=("stun:127.0.0.1:3478",)),
        IceServer(urls=("turn:127.0.0.1:3478",), username="u", credential="p"),
    )


@pytest.mark.parametrize(
    ("url", "server"),
    [
        pytest.param(
            "turn:1700000000:bob:c2VjcmV0+/=@127.0.0.1:3478",
            IceServer(
                urls=("turn:127.0.0.1:3478",), username="1700000000:bob", credential="c2VjcmV0+/="
            ),
            id="rest-username-with-a-colon",
        ),
        pytest.param(
            "turn:ann:p%3Ass%40w@127.0.0.1:3478?transport=tcp",
            IceServer(
                urls=("turn:127.0.0.1:3478?transport=tcp",), username="ann", credential="p:ss@w"
            ),
            id="percent-encoded-password",
        ),
        pytest.param(
            "turn:1700000000%3Abob:pw@127.0.0.1",
            IceServer(urls=("turn:127.0.0.1",), username="1700000000:bob", credential="pw"),
            id="percent-encoded-username",
        ),
        pytest.param(
            "turns:ann@turn.example.org",
            IceServer(urls=("turns:turn.example.org",), username="ann"),
            id="username-alone",
        ),
    ],
)
def test_turn_credentials_keep_colons_in_the_username(url: str, server: IceServer) -> None:
    """The password follows the last colon, so TURN REST usernames (<expiry>:<name>) stay whole; %XX decodes."""
    args = guest_cli.build_parser().parse_args([*REQUIRED["lobbyhost-guest"], "--ice-server", url])
    assert guest_cli.ice_from_arguments(args).servers == (server,)


@pytest.mark.parametrize("program", PARSERS)
def test_relay_delay_defaults_to_a_second_and_can_be_turned_off(program: str) -> None:
    """--relay-delay sets how long relayed pairs wait (default 1 s); 0 checks them at once."""
    parse = PARSERS[program]().parse_args
    assert guest_cli.ice_from_arguments(parse(REQUIRED[program])).relay_delay_s == 1.0
    args = parse([*REQUIRED[program], "--relay-delay", "0"])
    assert guest_cli.ice_from_arguments(args).relay_delay_s == 0.0


def test_headless_maps_the_port_only_when_asked() -> None:
    """lobbyhost leaves the router alone unless given --map-port (--no-map-port says so explicitly)."""
    parse = cli.build_parser().parse_args
    assert parse(["--headless"]).map_port is False
    assert parse(["--headless", "--map-port"]).map_port is True
    assert parse(["--headless", "--map-port", "--no-map-port"]).map_port is False
