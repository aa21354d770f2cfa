"""``lobbyhost --headless`` for play across networks: the invite line, --invite-address,
--server (a remote lobbyhost-server) and --turn-secret-file, as real processes on loopback."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from lobbyhost_app import cli
from signalling_server import Limits, ServerConfig, serve
from tests.coturn import running_coturn
from tests.signalling_server.wsclient import WsClient
from tests.tls_certificates import self_signed_certificate

from .test_headless_and_guest_cli import START_TIMEOUT, guest, headless_host, running


async def test_the_invite_line_says_who_the_link_reaches() -> None:
    """After lobby_started comes invite: the link, its address, where it came from and "only on this computer" for loopback."""
    async with headless_host() as host:
        invite = await host.expect("invite")
        port, code = host.started["port"], host.started["lobby_id"]
        assert invite == {
            "event": "invite",
            "link": f"http://127.0.0.1:{port}/join/{code}",
            "address": "127.0.0.1",
            "source": "interface",
            "reach": "this_computer",
            "note": "only on this computer",
        }


async def test_a_typed_invite_address_is_used_in_the_link() -> None:
    """--invite-address NAME puts that name in the link, reaching the internet if the port is open."""
    async with headless_host("--invite-address", "lobby.example.org") as host:
        invite = await host.expect("invite")
        port, code = host.started["port"], host.started["lobby_id"]
        assert invite["link"] == f"http://lobby.example.org:{port}/join/{code}"
        assert (invite["source"], invite["reach"]) == ("custom", "internet")


async def test_invite_address_stun_uses_the_address_the_stun_server_sees(tmp_path: Path) -> None:
    """--invite-address stun asks the --ice-server stun: URL (a coturn on 127.0.0.1) and links to what it saw."""
    async with (
        running_coturn(tmp_path, secret="s3cret") as coturn,
        headless_host("--ice-server", coturn.stun_url, "--invite-address", "stun") as host,
    ):
        invite = await host.expect("invite")
        assert (invite["address"], invite["source"]) == ("127.0.0.1", "stun")


async def test_server_option_hosts_on_a_remote_lobbyhost_server_and_a_guest_joins_by_its_link() -> (
    None
):
    """--server URL: the lobby lives on that server, the invite link is the server's, and a guest CLI joins by it and connects."""
    async with serve(ServerConfig(port=0, limits=Limits(password_hash_iterations=1))) as server:
        command = (
            "--headless",
            "--server",
            server.url,
            "--ice-address",
            "127.0.0.1",
            "--auto-accept",
        )
        async with running("host", "lobbyhost_app.cli", *command) as host:
            started = await host.expect("lobby_started", within=START_TIMEOUT)
            assert started["url"] == server.url
            assert started["healthz"] == f"http://127.0.0.1:{server.port}/healthz"
            assert server.counters.lobbies == 1
            invite = await host.expect("invite")
            code = started["lobby_id"]
            assert invite["link"] == f"http://127.0.0.1:{server.port}/join/{code}"
            assert invite["source"] == "server"
            async with guest(invite["link"], "") as bob:
                await bob.expect("status", within=START_TIMEOUT, phase="connected")
                await host.expect("peer_connected", name="Bob")


async def test_turn_secret_file_mints_credentials_for_every_guest(tmp_path: Path) -> None:
    """--turn-secret-file with a credential-less --ice-server turn: URL: each guest is handed that TURN server with minted REST credentials."""
    secret_file = tmp_path / "turn-secret"
    secret_file.write_text("s3cret\n")
    async with running_coturn(tmp_path, secret="s3cret") as coturn:
        args = ("--ice-server", coturn.turn_url, "--turn-secret-file", str(secret_file))
        async with headless_host("--auto-accept", *args) as host:
            joiner = await WsClient.open(host.started["url"], "127.0.0.2")
            await joiner.act("join_lobby", lobby_id=host.started["lobby_id"], name="Bob")
            await joiner.expect("join_requested")
            accepted = await joiner.expect("request_accepted")
            (turn,) = accepted["ice_servers"]
            assert turn["urls"] == [coturn.turn_url]
            expiry, _, who = turn["username"].partition(":")
            assert int(expiry) > time.time() and who == accepted["connection_id"]
            assert turn["credential"]
            await joiner.close()


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--turn-secret-file", "/nonexistent/secret"], "cannot read the TURN secret file"),
        (["--server", "ws://127.0.0.1:1/", "--listen", "127.0.0.1:0"], "--listen is for"),
        (["--invite-address", "stun"], "needs a STUN server"),
        (["--invite-address", "not an address"], "not an IP address or a host name"),
    ],
)
def test_public_play_options_that_cannot_work_are_usage_errors(
    args: list[str], said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Options that cannot work together end with usage and a sentence, exit 2, before anything starts."""
    with pytest.raises(SystemExit) as exited:
        cli.main(["--headless", *args])
    assert exited.value.code == 2
    assert said in capsys.readouterr().err


def test_a_turn_secret_without_a_turn_server_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--turn-secret-file with no credential-less turn: URL to use it for says what is missing."""
    secret_file = tmp_path / "turn-secret"
    secret_file.write_text("s3cret")
    with pytest.raises(SystemExit) as exited:
        cli.main(["--headless", "--turn-secret-file", str(secret_file)])
    assert exited.value.code == 2
    assert "--ice-server turn:HOST:PORT" in capsys.readouterr().err


async def test_headless_and_guest_cli_meet_on_a_wss_server_by_its_https_link(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server with a certificate (trusted through SSL_CERT_FILE): --server wss:// hosts, the invite link is https://, and lobbyhost-guest joins by it and connects."""
    certificate = self_signed_certificate(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate.cert))
    config = ServerConfig(
        port=0,
        limits=Limits(password_hash_iterations=1),
        tls_cert=certificate.cert,
        tls_key=certificate.key,
    )
    async with serve(config) as server:
        command = (
            "--headless",
            "--server",
            server.url,
            "--ice-address",
            "127.0.0.1",
            "--auto-accept",
        )
        async with running("host", "lobbyhost_app.cli", *command) as host:
            started = await host.expect("lobby_started", within=START_TIMEOUT)
            assert started["healthz"] == f"https://127.0.0.1:{server.port}/healthz"
            invite = await host.expect("invite")
            assert invite["link"] == f"https://127.0.0.1:{server.port}/join/{started['lobby_id']}"
            async with guest(invite["link"], "") as bob:
                await bob.expect("status", within=START_TIMEOUT, phase="connected")
