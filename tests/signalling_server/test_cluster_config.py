"""Cluster options: --redis and --workers, on the command line and in the TOML file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from signalling_server.cli import build_parser, config_from_args
from signalling_server.config import ServerConfig, config_from_mapping
from signalling_server.errors import ConfigError
from tests.timeouts import scaled

ROOT = Path(__file__).resolve().parents[2]


def test_redis_and_workers_come_from_flags_and_the_file(tmp_path: Path) -> None:
    """--redis and --workers set the config; the TOML keys redis and workers do too."""
    args = build_parser().parse_args(["--redis", "redis://127.0.0.1:6379/0", "--workers", "3"])
    config = config_from_args(args)
    assert (config.redis, config.workers) == ("redis://127.0.0.1:6379/0", 3)
    path = tmp_path / "server.toml"
    path.write_text('redis = "redis://127.0.0.1:6380/1"\nworkers = 2\n')
    from_file = config_from_args(build_parser().parse_args(["--config", str(path)]))
    assert (from_file.redis, from_file.workers) == ("redis://127.0.0.1:6380/1", 2)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"workers": 2}, "workers above 1 need redis"),
        ({"workers": 0}, "workers must be at least 1"),
        ({"redis": "http://127.0.0.1:6379"}, "redis must be a redis://"),
        ({"timeouts": {"node_heartbeat": 2, "node_timeout": 3}}, "node_timeout must be at least"),
    ],
)
def test_cluster_settings_that_cannot_work_are_refused(
    data: dict[str, object], message: str
) -> None:
    """Workers without Redis, a URL that is not Redis's, a node timeout shorter than two beats."""
    with pytest.raises(ConfigError, match=message):
        config_from_mapping(data)


def test_one_process_needs_no_redis() -> None:
    """The default (one process, memory backend) has no Redis."""
    assert (ServerConfig().redis, ServerConfig().workers) == (None, 1)


def test_cli_refuses_workers_without_redis() -> None:
    """lobbyhost-server --workers 2 without --redis exits 2 with a sentence saying why."""
    result = subprocess.run(
        [sys.executable, "-m", "signalling_server", "--workers", "2", "--port", "0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=scaled(30),
        check=False,
    )
    assert result.returncode == 2
    assert "workers above 1 need redis (--redis redis://...)" in result.stderr


def test_cli_says_when_redis_cannot_be_reached() -> None:
    """A node whose Redis is not there exits 1 naming the URL, without a traceback."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "signalling_server",
            "--port",
            "0",
            "--redis",
            "redis://127.0.0.1:1/0",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=scaled(30),
        check=False,
    )
    assert result.returncode == 1
    assert "cannot reach Redis at redis://127.0.0.1:1/0" in result.stderr
    assert "Traceback" not in result.stderr
