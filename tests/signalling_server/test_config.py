"""Configuration: defaults, validation and the TOML mapping."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from signalling_server.cli import build_parser, config_from_args
from signalling_server.config import (
    Limits,
    ServerConfig,
    Timeouts,
    config_from_mapping,
    load_toml,
)
from signalling_server.errors import ConfigError
from tests.timeouts import scaled

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_match_the_protocol() -> None:
    """The defaults are protocol.md's limits table."""
    limits, timeouts = Limits(), Timeouts()
    assert limits.max_frame_bytes == 64 * 1024
    assert (limits.actions_per_second, limits.action_burst) == (50, 200)
    assert limits.lobbies_per_address == 8
    assert limits.joins_per_address_per_minute == 30
    assert limits.pending_per_lobby == 32
    assert limits.default_max_guests == 8
    assert (timeouts.guest_grace, timeouts.host_grace) == (30, 30)
    assert timeouts.pending_request_timeout == 120
    assert (timeouts.ping_interval, timeouts.ping_timeout) == (20, 20)
    assert ServerConfig().ice.servers_for("x", 0) == []


@pytest.mark.parametrize(
    "make",
    [
        lambda: Limits(max_frame_bytes=0),
        lambda: Limits(max_frame_bytes=1000, hard_frame_bytes=500),
        lambda: Limits(default_max_guests=65),
        lambda: Timeouts(guest_grace=-1),
        lambda: ServerConfig(port=70000),
    ],
)
def test_impossible_values_are_config_errors(make: object) -> None:
    """Values that cannot work are refused at start-up with a ConfigError."""
    with pytest.raises(ConfigError):
        make()  # type: ignore[operator]


def test_toml_file_maps_to_config(tmp_path: Path) -> None:
    """A TOML file with [limits], [timeouts] and [ice] tables builds the config."""
    path = tmp_path / "server.toml"
    path.write_text(
        'host = "127.0.0.1"\nport = 9000\n'
        "[limits]\nmax_frame_bytes = 1000\n"
        "[timeouts]\nguest_grace = 5\n"
        '[ice]\nstun_urls = ["stun:127.0.0.1:3478"]\n'
        '[[ice.turn_secret]]\nurls = "turn:127.0.0.1:3478"\nsecret = "k"\nttl_s = 60\n'
    )
    config = config_from_mapping(load_toml(path))
    assert config.port == 9000
    assert config.limits.max_frame_bytes == 1000
    assert config.timeouts.guest_grace == 5
    assert config.ice.stun_urls == ("stun:127.0.0.1:3478",)
    assert config.ice.turn_secret[0].urls == ("turn:127.0.0.1:3478",)


@pytest.mark.parametrize(
    "data",
    [
        {"limits": {"max_frame_byte": 5}},
        {"prot": 1},
        {"ice": {"stun": []}},
        {"ice": {"turn": [{"urls": "turn:127.0.0.1"}]}},
        {"ice": {"turn": [{"username": "u", "credential": "c"}]}},
        {"ice": {"turn_secret": [{"secret": "k"}]}},
        {"ice": {"turn_secret": [{"urls": "turn:127.0.0.1", "secret": ""}]}},
        {"ice": {"turn_secret": [{"urls": "http://x", "secret": "k"}]}},
        {"ice": {"stun_urls": ["turn:127.0.0.1"]}},
    ],
)
def test_unknown_or_missing_keys_are_config_errors(data: dict[str, object]) -> None:
    """A misspelt, missing or malformed setting is a ConfigError, never a traceback."""
    with pytest.raises(ConfigError):
        config_from_mapping(data)


def test_unreadable_or_invalid_toml_is_a_config_error(tmp_path: Path) -> None:
    """Missing files and broken TOML are ConfigErrors with the path in the message."""
    with pytest.raises(ConfigError, match="cannot read"):
        load_toml(tmp_path / "missing.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[limits\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_toml(broken)


def test_dialect_time_scale_from_toml_and_command_line(tmp_path: Path) -> None:
    """dialect_time_scale comes from the TOML file, the flag overrides it, and 0 is refused."""
    path = tmp_path / "server.toml"
    path.write_text("dialect_time_scale = 0.5\n")
    parser = build_parser()
    assert config_from_args(parser.parse_args(["--config", str(path)])).dialect_time_scale == 0.5
    args = parser.parse_args(["--config", str(path), "--dialect-time-scale", "0.01"])
    assert config_from_args(args).dialect_time_scale == 0.01
    with pytest.raises(ConfigError, match="dialect_time_scale"):
        config_from_mapping({"dialect_time_scale": 0})


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        ("limitz = 3\n", "limitz"),
        ("[limits]\nmax_frame_byte = 5\n", "limits.max_frame_byte"),
        ("[timeouts]\nguest_grase = 5\n", "timeouts.guest_grase"),
        (
            '[[ice.turn]]\nurls = "turn:127.0.0.1"\nusername = "u"\ncredential = "c"\npass = "p"\n',
            "ice.turn.pass",
        ),
    ],
)
def test_an_unknown_toml_key_is_named_with_its_file(tmp_path: Path, toml: str, key: str) -> None:
    """A misspelt key of the config file is refused with its dotted name and the file's path."""
    path = tmp_path / "server.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError) as caught:
        config_from_args(build_parser().parse_args(["--config", str(path)]))
    assert str(caught.value) == f"unknown key {key!r} in {path}"


def test_lobbyhost_server_says_which_key_of_which_file_it_does_not_know(tmp_path: Path) -> None:
    """lobbyhost-server --config with a typo exits 2 with "unknown key 'limitz' in <file>"."""
    path = tmp_path / "server.toml"
    path.write_text("port = 0\nlimitz = 3\n")
    done = subprocess.run(
        [sys.executable, "-m", "signalling_server", "--config", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=scaled(60),
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.endswith(f"lobbyhost-server: error: unknown key 'limitz' in {path}\n")
