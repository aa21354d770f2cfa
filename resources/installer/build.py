"""Build LobbyHost's installers from a clean clone.

Run from anywhere: ``python resources/installer/build.py`` (after
``pip install -e '.[installer]'``). On Linux it makes, under ``dist/``:

* ``lobbyhost/``: the PyInstaller one-folder bundle (runs with no Python installed);
* ``lobbyhost_<version>_linux_x86_64.tar.gz``: that folder, for any distribution;
* ``lobbyhost_<version>_amd64.deb``: the bundle under ``/opt/lobbyhost``; the
  ``lobbyhost``, ``lobbyhost-guest`` and ``lobbyhost-server`` commands in
  ``/usr/bin``, all three links to the bundle's executable (it runs the command
  it is started as); a desktop entry, an icon, and the server's systemd unit,
  installed disabled.

On Windows and macOS the same spec makes the bundle (and ``LobbyHost.app``);
the README's "Installers" section has the recipes for the setup program and the
disk image.
"""

from __future__ import annotations

import argparse
import importlib.util
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

#: The commands in /usr/bin: each a link to the bundle's one executable, which
#: runs the command it was started as (resources/installer/lobbyhost_main.py).
COMMANDS = ("lobbyhost", "lobbyhost-guest", "lobbyhost-server")

SERVER_UNIT = """# LobbyHost's signalling server as a system service. It is installed disabled;
# to run it now and at every boot:
#     sudo systemctl enable --now lobbyhost-server
#
# It listens on 127.0.0.1:8765 only: right behind a reverse proxy (TLS) on this
# machine, unreachable from anywhere else. To listen on every interface, or on
# another port, override the command with a drop-in:
#     sudo systemctl edit lobbyhost-server
# and write there
#     [Service]
#     ExecStart=
#     ExecStart=/usr/bin/lobbyhost-server --host 0.0.0.0 --port 8765
# (`lobbyhost-server --help` lists every option; --config FILE reads a TOML file).
# A port below 1024 also needs AmbientCapabilities=CAP_NET_BIND_SERVICE there.

[Unit]
Description=LobbyHost signalling server
After=network.target

[Service]
ExecStart=/usr/bin/lobbyhost-server --host 127.0.0.1 --port 8765
# SIGTERM (systemctl stop) closes every connection gracefully.
Restart=on-failure
# Every connection is a descriptor: systemd's default of 1024 would cap the
# server near 960 connections (it answers 503 past its limit less 64).
LimitNOFILE=65536
# An unprivileged user made for the service while it runs; it owns no files.
DynamicUser=yes
ProtectHome=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectControlGroups=yes
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX
RestrictNamespaces=yes
LockPersonality=yes

[Install]
WantedBy=multi-user.target
"""

# Maintainer scripts: they never enable or start the service (the admin does),
# but keep systemd's view current and never leave it running a removed program.
POSTINST = """#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then
    systemctl --system daemon-reload >/dev/null || true
    # On upgrade, a server the admin is running moves to the new files; a
    # stopped one stays stopped (try-restart acts only on running units).
    if [ "$1" = configure ] && [ -n "$2" ]; then
        systemctl try-restart lobbyhost-server.service >/dev/null || true
    fi
fi
"""
PRERM = """#!/bin/sh
set -e
if [ -d /run/systemd/system ] && [ "$1" = remove ]; then
    systemctl stop lobbyhost-server.service >/dev/null || true
fi
"""
POSTRM = """#!/bin/sh
set -e
if [ "$1" = purge ]; then
    # What `systemctl enable` made, if the admin ran it.
    rm -f /etc/systemd/system/multi-user.target.wants/lobbyhost-server.service
fi
if [ -d /run/systemd/system ]; then
    systemctl --system daemon-reload >/dev/null || true
fi
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


def require_uvloop() -> None:
    """On Linux and macOS the bundle carries uvloop (the server's faster loop): it must be here."""
    if sys.platform != "win32" and importlib.util.find_spec("uvloop") is None:
        raise SystemExit("uvloop is not installed: pip install -e '.[installer]' installs it")


def build_bundle(dist: Path, work: Path) -> Path:
    require_uvloop()
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
    for command in COMMANDS:
        (root / "usr" / "bin" / command).symlink_to("/opt/lobbyhost/lobbyhost")
    units = root / "usr" / "lib" / "systemd" / "system"
    units.mkdir(parents=True)
    (units / "lobbyhost-server.service").write_text(SERVER_UNIT)
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
    for name, script in (("postinst", POSTINST), ("prerm", PRERM), ("postrm", POSTRM)):
        (control / name).write_text(script)
        (control / name).chmod(0o755)
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
 LobbyHost itself or from the lobbyhost-guest command. The lobbyhost-server
 command runs the signalling server alone; its systemd unit,
 lobbyhost-server.service, is installed disabled.
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
