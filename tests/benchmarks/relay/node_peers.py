"""The Node servers compared with: node itself and the npm packages, in a cache outside the repo.

``ws`` and ``peer`` are installed with npm (from the npm registry) into
``~/.cache/lobbyhost-bench/node`` (``$LOBBYHOST_BENCH_CACHE`` moves it), never
into the repository. Without ``node`` or ``npm`` the benchmark runs without the
Node rows and says why.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .progress import log

#: The npm packages and the versions measured (pinned so runs stay comparable).
PACKAGES = {"ws": "8.23.0", "peer": "1.0.2"}
SCRIPTS = Path(__file__).resolve().parent / "node"


def cache_dir() -> Path:
    """Where npm installs the packages: outside the repository."""
    base = os.environ.get("LOBBYHOST_BENCH_CACHE") or Path.home() / ".cache" / "lobbyhost-bench"
    return Path(base) / "node"


@dataclass(frozen=True)
class NodeRuntime:
    """``node`` and the folder its ``require`` finds ``ws`` and ``peer`` in."""

    node: str
    modules: Path
    version: str

    def command(self, script: str) -> list[str]:
        """The command line that runs one of the benchmark's scripts in ``node/``."""
        return [self.node, str(SCRIPTS / script)]

    def environment(self) -> dict[str, str]:
        """The environment for that command: NODE_PATH points at the cache."""
        return {**os.environ, "NODE_PATH": str(self.modules)}


def _installed(modules: Path) -> bool:
    for name, version in PACKAGES.items():
        manifest = modules / name / "package.json"
        if not manifest.exists() or f'"version": "{version}"' not in manifest.read_text():
            return False
    return True


def find_node() -> NodeRuntime | str:
    """The Node runtime with the packages installed, or why the Node rows are left out."""
    node = shutil.which("node")
    if node is None:
        return "node is not installed: the Node servers are left out"
    folder = cache_dir()
    modules = folder / "node_modules"
    if not _installed(modules):
        npm = shutil.which("npm")
        if npm is None:
            return "npm is not installed: the Node servers are left out"
        folder.mkdir(parents=True, exist_ok=True)
        specs = [f"{name}@{version}" for name, version in PACKAGES.items()]
        log(f"installing {' '.join(specs)} with npm into {folder}")
        result = subprocess.run(
            [npm, "install", "--prefix", str(folder), "--no-audit", "--no-fund", *specs],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0 or not _installed(modules):
            return f"npm install failed, the Node servers are left out: {result.stderr[-500:]}"
    version = subprocess.run(
        [node, "--version"], capture_output=True, text=True, check=True
    ).stdout.strip()
    return NodeRuntime(node, modules, version)
