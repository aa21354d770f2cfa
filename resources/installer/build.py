"""Build LobbyHost's installers from a clean clone.

Run from anywhere: ``python resources/installer/build.py`` (after
``pip install -e '.[installer]'``). On Linux it makes, under ``dist/``:

* ``lobbyhost/``: the PyInstaller one-folder bundle (runs with no Python installed);
* ``lobbyhost_<version>_linux_x86_64.tar.gz``: that folder, for any distribution;
* ``lobbyhost_<version>_amd64.deb``: the bundle under ``/opt/lobbyhost``, the
  ``/usr/bin/lobbyhost`` link, a desktop entry and an icon.

On Windows and macOS the same spec makes the bundle (and ``LobbyHost.app``);
the README's "Installers" section has the recipes for the setup program and the
disk image.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tarfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "resources" / "installer" / "lobbyhost.spec"
ICON = ROOT / "resources" / "icons" / "lobbyhost.png"

DESKTOP_ENTRY = """[Desktop Entry]
Type=Application
Name=LobbyHost
GenericName=Game lobby host
Comment=Host a peer-to-peer game lobby: share a code, accept guests
Exec=/usr/bin/lobbyhost
Icon=lobbyhost
Terminal=false
Categories=Game;Network;
Keywords=lobby;multiplayer;webrtc;
"""

# What the bundle needs from the system: the C library, and the X11, EGL and
# font libraries Qt loads (they are not bundled; every desktop has them).
DEB_DEPENDS = (
    "libc6 (>= 2.36), libegl1, libgl1, libfontconfig1, libfreetype6, libdbus-1-3, "
    "libxkbcommon-x11-0, libx11-xcb1, libxcb-cursor0, libxcb-icccm4, libxcb-image0, "
    "libxcb-keysyms1, libxcb-randr0, libxcb-render-util0, libxcb-shape0, libxcb-xkb1"
)


def version() -> str:
    with (ROOT / "pyproject.toml").open("rb") as file:
        return str(tomllib.load(file)["project"]["version"])


def run(*command: str | Path) -> None:
    print("+", " ".join(map(str, command)), flush=True)
    subprocess.run([str(part) for part in command], check=True, cwd=ROOT)  # noqa: S603


def build_bundle(dist: Path, work: Path) -> Path:
    run(
        sys.executable,
        "-m",
        "PyInstaller",
        "--noconfirm",
        "--clean",
        "--distpath",
        dist,
        "--workpath",
        work,
        SPEC,
    )
    bundle = dist / "lobbyhost"
    if not (bundle / "lobbyhost").exists() and not (bundle / "lobbyhost.exe").exists():
        raise SystemExit(f"PyInstaller made no executable in {bundle}")
    return bundle


def build_tarball(bundle: Path, dist: Path, ver: str) -> Path:
    target = dist / f"lobbyhost_{ver}_linux_x86_64.tar.gz"
    with tarfile.open(target, "w:gz", compresslevel=9) as archive:
        archive.add(bundle, arcname=f"lobbyhost-{ver}")
    return target


def build_deb(bundle: Path, dist: Path, work: Path, ver: str) -> Path:
    root = work / "deb-root"
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(bundle, root / "opt" / "lobbyhost", symlinks=True)
    (root / "usr" / "bin").mkdir(parents=True)
    (root / "usr" / "bin" / "lobbyhost").symlink_to("/opt/lobbyhost/lobbyhost")
    applications = root / "usr" / "share" / "applications"
    applications.mkdir(parents=True)
    (applications / "lobbyhost.desktop").write_text(DESKTOP_ENTRY)
    icons = root / "usr" / "share" / "icons" / "hicolor" / "256x256" / "apps"
    icons.mkdir(parents=True)
    shutil.copy(ICON, icons / "lobbyhost.png")
    files = (f for f in root.rglob("*") if f.is_file() and not f.is_symlink())
    installed_kib = sum(f.stat().st_size for f in files) // 1024
    control = root / "DEBIAN"
    control.mkdir()
    (control / "control").write_text(
        f"""Package: lobbyhost
Version: {ver}
Architecture: amd64
Maintainer: LobbyHost developers <lobbyhost@localhost>
Installed-Size: {installed_kib}
Depends: {DEB_DEPENDS}
Section: games
Priority: optional
Description: host a peer-to-peer game lobby
 LobbyHost runs a signalling server inside itself, shows a short join code,
 lets the host accept or reject each guest and connects every accepted guest
 to the host over WebRTC data channels. Guests join from a browser, from
 LobbyHost itself or from the lobbyhost-guest command.
"""
    )
    target = dist / f"lobbyhost_{ver}_amd64.deb"
    run("dpkg-deb", "--root-owner-group", "-Zxz", "-z9", "--build", root, target)
    return target


def main() -> int:
    parser = argparse.ArgumentParser(description="Build LobbyHost's installers.")
    parser.add_argument("--bundle-only", action="store_true", help="skip the .tar.gz and .deb")
    args = parser.parse_args()
    dist, work = ROOT / "dist", ROOT / "build"
    ver = version()
    bundle = build_bundle(dist, work)
    made = [bundle]
    if sys.platform.startswith("linux") and not args.bundle_only:
        made.append(build_tarball(bundle, dist, ver))
        if shutil.which("dpkg-deb"):
            made.append(build_deb(bundle, dist, work, ver))
        else:
            print("dpkg-deb not found: no .deb", file=sys.stderr)
    for path in made:
        size = (
            sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())
            if path.is_dir()
            else path.stat().st_size
        )
        print(f"{path.relative_to(ROOT)}: {size / 2**20:.1f} MiB", flush=True)
    return 0


if __name__ == "__main__":
    os.chdir(ROOT)
    sys.exit(main())
