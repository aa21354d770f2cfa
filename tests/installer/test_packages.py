"""The .deb and .tar.gz that resources/installer/build.py makes around a bundle."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path
from types import ModuleType

import pytest

from tests.ci import cannot_run
from tests.timeouts import scaled

ROOT = Path(__file__).resolve().parents[2]
ENTRY_POINT = ROOT / "resources" / "installer" / "lobbyhost_main.py"
#: What .ci/run builds before the tests (build.py --bundle-only).
BUILT_BUNDLE = ROOT / "dist" / "lobbyhost"
UNIT = "usr/lib/systemd/system/lobbyhost-server.service"
#: Each command, an option it answers and exits on, and the start of what it prints.
COMMAND_ANSWERS = (
    ("lobbyhost", "--help", "usage: lobbyhost [-h]"),
    ("lobbyhost-guest", "--help", "usage: lobbyhost-guest [-h]"),
    ("lobbyhost-server", "--version", "lobbyhost-server "),
)


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
    """A stand-in for PyInstaller's one-folder bundle: an executable and its _internal/.

    The executable is the bundle's real entry point run by this Python, so it
    picks its command from the name it is started as, as the bundle does.
    """
    folder = tmp_path / "dist" / "lobbyhost"
    (folder / "_internal" / "resources" / "web").mkdir(parents=True)
    (folder / "_internal" / "resources" / "web" / "index.html").write_text("<!doctype html>")
    program = folder / "lobbyhost"
    program.write_text(f"#!{sys.executable}\n{ENTRY_POINT.read_text()}")
    program.chmod(0o755)
    return folder


def dpkg(*args: str | Path) -> str:
    return subprocess.run(
        ["dpkg-deb", *map(str, args)], check=True, capture_output=True, text=True
    ).stdout


def unpacked_deb(bundle: Path, tmp_path: Path) -> Path:
    """The .deb built around ``bundle``, extracted (files and control scripts) under tmp_path."""
    deb = load_build().build_deb(bundle, tmp_path / "dist", tmp_path / "work", "1.2.3")
    unpacked = tmp_path / "unpacked"
    dpkg("--extract", deb, unpacked)
    dpkg("--control", deb, unpacked / "DEBIAN")
    return unpacked


def installed_commands(unpacked: Path, tmp_path: Path) -> Path:
    """A bin/ folder whose commands point where the package's /usr/bin links would, installed."""
    commands = tmp_path / "bin"
    commands.mkdir()
    for link in (unpacked / "usr" / "bin").iterdir():
        target = Path(os.readlink(link))
        assert target.is_absolute(), f"{link.name} -> {target}"
        (commands / link.name).symlink_to(unpacked / target.relative_to("/"))
    return commands


def run_command(commands: Path, name: str, option: str) -> str:
    """Run ``name option`` as a shell would find it on PATH, in a bare environment; its stdout."""
    result = subprocess.run(
        [name, option],
        env={"PATH": f"{commands}:/usr/bin:/bin", "HOME": str(commands)},
        capture_output=True,
        text=True,
        check=False,
        timeout=scaled(60),
    )
    assert result.returncode == 0, f"{name} {option}: {result.stderr}"
    return result.stdout


def test_deb_installs_the_bundle_under_opt_with_commands_desktop_entry_and_icon(
    bundle: Path, tmp_path: Path
) -> None:
    """The .deb holds /opt/lobbyhost, three /usr/bin commands -> it, a desktop entry, an icon, metadata."""
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
    for command, _, _ in COMMAND_ANSWERS:
        assert f"./usr/bin/{command} -> /opt/lobbyhost/lobbyhost" in listing
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


def test_every_command_of_the_deb_runs_as_itself(bundle: Path, tmp_path: Path) -> None:
    """lobbyhost, lobbyhost-guest and lobbyhost-server, run from the extracted .deb, each answer as themselves."""
    unpacked = unpacked_deb(bundle, tmp_path)
    commands = installed_commands(unpacked, tmp_path)
    assert sorted(path.name for path in commands.iterdir()) == sorted(
        command for command, _, _ in COMMAND_ANSWERS
    )
    for command, option, answer in COMMAND_ANSWERS:
        assert run_command(commands, command, option).startswith(answer), command
    assert run_command(commands, "lobbyhost-server", "--version").strip() == (
        f"lobbyhost-server {load_build().version()}"
    )


def test_the_server_unit_is_installed_disabled_and_listens_on_loopback(
    bundle: Path, tmp_path: Path
) -> None:
    """The unit ships in /usr/lib/systemd/system; nothing enables or starts it; 127.0.0.1, dynamic user."""
    unpacked = unpacked_deb(bundle, tmp_path)
    unit = (unpacked / UNIT).read_text()
    service = unit.split("[Service]", 1)[1].split("[Install]", 1)[0]
    assert "\nExecStart=/usr/bin/lobbyhost-server --host 127.0.0.1 --port 8765\n" in service
    assert "\nDynamicUser=yes\n" in service
    assert "\nUser=" not in service  # the dynamic user, never a fixed (or root) account
    assert "systemctl edit lobbyhost-server" in unit  # how to listen elsewhere
    assert "\nWantedBy=multi-user.target\n" in unit  # what `systemctl enable` would use
    # Not enabled: no link into a target's .wants/, nothing under /etc at all...
    assert not (unpacked / "etc").exists()
    assert not list(unpacked.rglob("*.wants"))
    # ...and no maintainer script enables or starts it (try-restart leaves a stopped one stopped).
    scripts = sorted(p for p in (unpacked / "DEBIAN").iterdir() if p.name != "control")
    assert [p.name for p in scripts] == ["postinst", "postrm", "prerm"]
    for script in scripts:
        assert script.stat().st_mode & 0o111, script.name
        subprocess.run(["sh", "-n", script], check=True)
        code = "\n".join(line.split("#", 1)[0] for line in script.read_text().splitlines())
        verbs = set(re.findall(r"systemctl\s+(?:--\S+\s+)*([\w-]+)", code))
        assert verbs <= {"daemon-reload", "try-restart", "stop"}, (script.name, verbs)
        assert "deb-systemd" not in code and "invoke-rc.d" not in code, script.name


def test_systemd_accepts_the_server_unit(bundle: Path, tmp_path: Path) -> None:
    """systemd-analyze verify, rooted in the extracted .deb, finds no error and the ExecStart program."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        cannot_run("systemd-analyze is missing (Debian's systemd package has it)")
    unpacked = unpacked_deb(bundle, tmp_path)
    # The targets every service is ordered against; the package (rightly) ships none.
    for target in ("sysinit", "basic", "shutdown", "network", "multi-user"):
        (unpacked / f"usr/lib/systemd/system/{target}.target").write_text("[Unit]\n")
    result = subprocess.run(
        [analyze, "verify", f"--root={unpacked}", "lobbyhost-server.service"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (result.returncode, result.stderr + result.stdout) == (0, "")


def test_the_built_bundle_answers_as_each_command(tmp_path: Path) -> None:
    """The PyInstaller bundle itself (dist/lobbyhost, as .ci/run builds it), linked as each command, runs it."""
    program = BUILT_BUNDLE / "lobbyhost"
    if not program.exists():
        cannot_run(
            f"no bundle at {program}: build it with resources/installer/build.py --bundle-only"
        )
    if program.stat().st_mtime < ENTRY_POINT.stat().st_mtime:
        cannot_run(f"{program} is older than {ENTRY_POINT.name}: build it again")
    commands = tmp_path / "bin"
    commands.mkdir()
    for command, _, _ in COMMAND_ANSWERS:
        (commands / command).symlink_to(program)  # as the .deb's /usr/bin links do
    for command, option, answer in COMMAND_ANSWERS:
        assert run_command(commands, command, option).startswith(answer), command


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


def test_the_built_bundle_serves_on_uvloop(tmp_path: Path) -> None:
    """On Linux the bundle carries uvloop: its lobbyhost-server runs on it (``--loop uvloop``)."""
    program = BUILT_BUNDLE / "lobbyhost"
    if not program.exists():
        cannot_run(
            f"no bundle at {program}: build it with resources/installer/build.py --bundle-only"
        )
    server = tmp_path / "lobbyhost-server"
    server.symlink_to(program)
    process = subprocess.Popen(
        [server, "--port", "0", "--loop", "uvloop", "--log-level", "info"],
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None and process.stderr is not None
        assert "listening on ws://127.0.0.1:" in process.stdout.readline()
        for line in process.stderr:
            if "event loop" in line:
                assert "running on the uvloop event loop" in line
                break
        else:
            raise AssertionError("the server never said which event loop it runs on")
    finally:
        process.terminate()
        process.communicate(timeout=scaled(30))
