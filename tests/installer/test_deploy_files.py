"""resources/deploy: the public server's systemd unit, its config and coturn's, checked for real."""

from __future__ import annotations

import shutil
import subprocess
import time
import tomllib
from pathlib import Path

from lobbyhost_app.guest_cli import ice_server_from_url
from lobbyhost_app.net.ice import IceSettings
from signalling_server.config import config_from_mapping
from signalling_server.ice import turn_rest_credentials
from tests.ci import cannot_run
from tests.coturn import running_coturn
from tests.lobbyhost_app.loopback import loopback_ice
from tests.lobbyhost_app.net.test_turn import gathered_types

DEPLOY = Path(__file__).resolve().parents[2] / "resources" / "deploy"

__all__ = ["loopback_ice"]  # ICE on 127.0.0.1 only, in every test here


def test_systemd_accepts_the_public_server_unit(tmp_path: Path) -> None:
    """systemd-analyze verify finds no error in lobbyhost-server.service (its program present in a root of its own)."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        cannot_run("systemd-analyze is missing (Debian's systemd package has it)")
    units = tmp_path / "etc/systemd/system"
    units.mkdir(parents=True)
    shutil.copy(DEPLOY / "lobbyhost-server.service", units)
    program = tmp_path / "usr/bin/lobbyhost-server"
    program.parent.mkdir(parents=True)
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    targets = tmp_path / "usr/lib/systemd/system"
    targets.mkdir(parents=True)
    for target in ("sysinit", "basic", "shutdown", "network-online", "multi-user"):
        (targets / f"{target}.target").write_text("[Unit]\n")
    result = subprocess.run(
        [analyze, "verify", f"--root={tmp_path}", "lobbyhost-server.service"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (result.returncode, result.stderr + result.stdout) == (0, "")


def test_the_example_server_config_loads_with_tls_and_a_turn_secret() -> None:
    """server.toml is a valid lobbyhost-server config: every key known, TURN credentials minted from its secret."""
    path = DEPLOY / "server.toml"
    with path.open("rb") as file:
        config = config_from_mapping(tomllib.load(file), source=str(path))
    assert (config.host, config.port) == ("0.0.0.0", 443)
    stun, turn = config.ice.servers_for("guest-1", time.time())
    assert stun.urls == ["stun:lobby.example.org:3478"]
    assert turn.username is not None and turn.username.endswith(":guest-1")


async def test_coturn_runs_the_example_config_and_relays_with_minted_credentials(
    tmp_path: Path,
) -> None:
    """coturn on turnserver.conf (its secret set, logging to stdout, on 127.0.0.1 with TLS off) relays for credentials minted as lobbyhost-server mints them."""
    secret = "deploy-test-secret"
    shipped = (DEPLOY / "turnserver.conf").read_text()
    assert "static-auth-secret=CHANGE-ME" in shipped and "log-file=syslog" in shipped
    config = tmp_path / "turnserver.conf"
    config.write_text(
        shipped.replace("static-auth-secret=CHANGE-ME", f"static-auth-secret={secret}").replace(
            "log-file=syslog", "log-file=stdout"
        )
    )
    async with running_coturn(tmp_path, config=config) as coturn:
        expires = int(time.time()) + 600
        username, credential = turn_rest_credentials(secret, "bob", expires_at=expires)
        url = f"turn:{username}:{credential}@127.0.0.1:{coturn.port}?transport=udp"
        assert "relay" in await gathered_types(IceSettings(servers=(ice_server_from_url(url),)))
        _, forged = turn_rest_credentials("CHANGE-ME", "bob", expires_at=expires)
        wrong = f"turn:{username}:{forged}@127.0.0.1:{coturn.port}?transport=udp"
        assert "relay" not in await gathered_types(
            IceSettings(servers=(ice_server_from_url(wrong),))
        )
