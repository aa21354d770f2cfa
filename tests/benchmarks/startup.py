"""Start to a shown window: the bundle and the installed app, against a bare Qt window.

Run: ``.venv/bin/python -m tests.benchmarks.startup [--runs 5] [--xvfb]``
(build the bundle first with ``python resources/installer/build.py --bundle-only``).

Each program prints how long after its process started its window was first
painted (``/proc/self/stat`` start time, so interpreter start-up, the bundle's
unpacking and every import count). The baseline, in the same run, is a bare
PySide6 window started by the same Python. ``--xvfb`` draws with a real X
server (xvfb-run); otherwise Qt's offscreen platform draws.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = ROOT / "dist" / "lobbyhost" / "lobbyhost"
SHOWN = re.compile(r"window shown (\d+) ms after the process started")

BARE_WINDOW = """
import os, sys, time
from pathlib import Path
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication, QLabel
def seconds_since_process_start():
    fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
    return time.clock_gettime(time.CLOCK_BOOTTIME) - int(fields[19]) / os.sysconf("SC_CLK_TCK")
app = QApplication(sys.argv[:1])
label = QLabel("hello")
class Watch(QObject):
    def eventFilter(self, watched, event):
        if event.type() == QEvent.Type.Paint:
            print(f"window shown {seconds_since_process_start() * 1000:.0f} ms after the process started", flush=True)
            QTimer.singleShot(0, app.quit)
        return False
watch = Watch()
label.installEventFilter(watch)
label.show()
app.exec()
"""


def measure(command: list[str], env: dict[str, str], xvfb: bool) -> float:
    if xvfb:
        command = ["xvfb-run", "-a", "-s", "-screen 0 1280x900x24", *command]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)
    match = SHOWN.search(done.stdout)
    if match is None:
        raise SystemExit(f"{command[-2:]} printed no start time:\n{done.stdout}\n{done.stderr}")
    return float(match.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--xvfb", action="store_true", help="draw under Xvfb (xcb) instead of offscreen"
    )
    args = parser.parse_args()
    if args.xvfb and shutil.which("xvfb-run") is None:
        raise SystemExit("--xvfb needs xvfb-run: apt-get install xvfb xauth")
    with tempfile.TemporaryDirectory(prefix="lobbyhost-start-") as home:
        # A bare environment, as a desktop launcher gives: no PYTHONPATH, own settings.
        env = {
            "PATH": "/usr/bin:/bin",
            "HOME": home,
            "XDG_CONFIG_HOME": home,
            "QT_QPA_PLATFORM": "xcb" if args.xvfb else "offscreen",
        }
        programs = {"bare PySide6 window (baseline)": [sys.executable, "-c", BARE_WINDOW]}
        programs["lobbyhost from the virtualenv"] = [
            str(Path(sys.executable).with_name("lobbyhost")),
            "--quit-when-shown",
        ]
        if BUNDLE.exists():
            programs["lobbyhost bundle (dist/lobbyhost)"] = [str(BUNDLE), "--quit-when-shown"]
        else:
            print(f"no bundle at {BUNDLE}: build it to measure it", file=sys.stderr)
        results = {}
        for name, command in programs.items():
            run_env = env if "bundle" in name else {**env, "PYTHONPATH": str(ROOT)}
            results[name] = [measure(command, run_env, args.xvfb) for _ in range(args.runs)]
    baseline = statistics.median(next(iter(results.values())))
    print("| program | median ms | worst ms | vs baseline | target |")
    print("|---|---|---|---|---|")
    for name, times in results.items():
        median = statistics.median(times)
        target = f"<= 2000 ms: {'PASS' if median <= 2000 else 'FAIL'}" if "bundle" in name else ""
        print(f"| {name} | {median:.0f} | {max(times):.0f} | {median / baseline:.2f}x | {target} |")


if __name__ == "__main__":
    os.chdir(ROOT)
    main()
