"""The public-service options: trusted proxies and allowed origins, from TOML and flags."""

from __future__ import annotations

from pathlib import Path

import pytest

from signalling_server.cli import build_parser, config_from_args
from signalling_server.config import Limits, ServerConfig, config_from_mapping
from signalling_server.errors import ConfigError


def test_defaults_trust_no_proxy_and_allow_no_foreign_origin() -> None:
    """Out of the box no proxy is believed and no other site's pages are let in."""
    config = ServerConfig()
    assert config.trusted_proxies == ()
    assert config.allowed_origins == ()
    assert config.limits.connections_per_address == 64
    assert config.limits.rate_limited_frames_before_close == 500


def test_toml_lists_and_repeatable_flags(tmp_path: Path) -> None:
    """TOML arrays set both lists; repeated flags replace them."""
    path = tmp_path / "server.toml"
    path.write_text(
        'trusted_proxies = ["10.0.0.0/8", "2001:db8:ffff::1"]\n'
        'allowed_origins = ["https://games.example.org"]\n'
        "[limits]\nconnections_per_address = 16\nrate_limited_frames_before_close = 50\n"
    )
    parser = build_parser()
    config = config_from_args(parser.parse_args(["--config", str(path)]))
    assert config.trusted_proxies == ("10.0.0.0/8", "2001:db8:ffff::1")
    assert config.allowed_origins == ("https://games.example.org",)
    assert config.limits == Limits(connections_per_address=16, rate_limited_frames_before_close=50)
    args = parser.parse_args(
        [
            "--config",
            str(path),
            "--trusted-proxy",
            "127.0.0.1",
            "--trusted-proxy",
            "::1",
            "--allowed-origin",
            "*",
            "--connections-per-address",
            "4",
        ]
    )
    config = config_from_args(args)
    assert config.trusted_proxies == ("127.0.0.1", "::1")
    assert config.allowed_origins == ("*",)
    assert config.limits.connections_per_address == 4


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"trusted_proxies": ["10.0.0.0/33"]}, "trusted_proxies: not an address or CIDR range"),
        ({"trusted_proxies": "10.0.0.0/8"}, "trusted_proxies is a list of strings"),
        ({"allowed_origins": ["games.example.org"]}, "allowed_origins: not an origin"),
        ({"proxy_protocol": True}, "proxy_protocol needs trusted_proxies"),
        ({"proxy_protocol": "yes", "trusted_proxies": ["::1"]}, "proxy_protocol is true or false"),
        ({"limits": {"connections_per_address": 0}}, "connections_per_address must be positive"),
    ],
)
def test_bad_values_are_config_errors_naming_the_key(data: dict[str, object], message: str) -> None:
    """A bad range, origin or cap is a ConfigError that says which key and why."""
    with pytest.raises(ConfigError, match=message):
        config_from_mapping(data)


def test_proxy_protocol_from_toml_or_flag(tmp_path: Path) -> None:
    """proxy_protocol is off by default, on with the TOML key or --proxy-protocol."""
    assert ServerConfig().proxy_protocol is False
    path = tmp_path / "server.toml"
    path.write_text('trusted_proxies = ["10.0.0.0/8"]\nproxy_protocol = true\n')
    parser = build_parser()
    assert config_from_args(parser.parse_args(["--config", str(path)])).proxy_protocol
    args = parser.parse_args(["--trusted-proxy", "10.0.0.1", "--proxy-protocol"])
    assert config_from_args(args).proxy_protocol
