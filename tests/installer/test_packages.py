"""The .deb and .tar.gz that resources/installer/build.py makes around a bundle."""

from __future__ import annotations

import importlib.util
import subprocess
import tarfile
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def load_build() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "lobbyhost_build", ROOT / "resources" / "installer" / "build.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    """A stand-in for PyInstaller's one-folder bundle: an executable and its _internal/."""
    folder = tmp_path / "dist" / "lobbyhost"
    (folder / "_internal" / "resources" / "web").mkdir(parents=True)
    (folder / "_internal" / "resources" / "web" / "index.html").write_text("<!doctype html>")
    program = folder / "lobbyhost"
    program.write_text("#!/bin/sh\necho bundled\n")
    program.chmod(0o755)
    return folder


def dpkg(*args: str | Path) -> str:
    return subprocess.run(
        ["dpkg-deb", *map(str, args)], check=True, capture_output=True, text=True
    ).stdout


def test_deb_installs_the_bundle_under_opt_with_link_desktop_entry_and_icon(
    bundle: Path, tmp_path: Path
) -> None:
    """The .deb holds /opt/lobbyhost, /usr/bin/lobbyhost -> it, a desktop entry, an icon, metadata."""
    build = load_build()
    deb = build.build_deb(bundle, tmp_path / "dist", tmp_path / "work", "1.2.3")
    assert deb.name == "lobbyhost_1.2.3_amd64.deb"
    info = dpkg("--field", deb, "Package", "Version", "Architecture", "Depends", "Description")
    assert "Package: lobbyhost" in info
    assert "Version: 1.2.3" in info
    assert "Architecture: amd64" in info
    assert "libxcb-cursor0" in info
    listing = dpkg("--contents", deb)
    assert "./opt/lobbyhost/lobbyhost" in listing
    assert "./opt/lobbyhost/_internal/resources/web/index.html" in listing
    assert "./usr/bin/lobbyhost -> /opt/lobbyhost/lobbyhost" in listing
    assert "./usr/share/applications/lobbyhost.desktop" in listing
    assert "./usr/share/icons/hicolor/256x256/apps/lobbyhost.png" in listing
    owners = {line.split()[1] for line in listing.splitlines()}
    assert owners == {"root/root"}  # built with --root-owner-group
    unpacked = tmp_path / "unpacked"
    dpkg("--extract", deb, unpacked)
    desktop = (unpacked / "usr/share/applications/lobbyhost.desktop").read_text()
    assert "Exec=/usr/bin/lobbyhost" in desktop
    assert "Icon=lobbyhost" in desktop
    assert (unpacked / "opt/lobbyhost/lobbyhost").stat().st_mode & 0o111
    assert (
        subprocess.run(
            [unpacked / "opt/lobbyhost/lobbyhost"], capture_output=True, text=True, check=True
        ).stdout
        == "bundled\n"
    )


def test_tarball_holds_the_bundle_in_a_versioned_folder(bundle: Path, tmp_path: Path) -> None:
    """The .tar.gz unpacks to lobbyhost-<version>/ with the executable still executable."""
    build = load_build()
    target = build.build_tarball(bundle, tmp_path, "1.2.3")
    assert target.name == "lobbyhost_1.2.3_linux_x86_64.tar.gz"
    with tarfile.open(target) as archive:
        member = archive.getmember("lobbyhost-1.2.3/lobbyhost")
        assert member.mode & 0o111
        names = archive.getnames()
    assert "lobbyhost-1.2.3/_internal/resources/web/index.html" in names


def test_version_comes_from_pyproject() -> None:
    """The packages carry the project's version."""
    assert load_build().version() == "0.1.0"
