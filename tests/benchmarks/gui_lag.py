"""GUI event-loop lag while 50 join requests arrive within one second.

Run: ``.venv/bin/python -m tests.benchmarks.gui_lag [--requests 50] [--json PATH]``

The real host window (offscreen unless ``QT_QPA_PLATFORM`` says otherwise) runs
on qasync's loop with its embedded server on 127.0.0.1. A probe coroutine asks
to wake every 5 ms and records how late it wakes: that lateness is what a user
feels as a stuck window. The baseline is the same probe while the app sits idle
with its lobby open, in the same run. A second process opens the join requests
from distinct loopback addresses, evenly over one second, so its own work does
not count as the GUI's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

PROBE_S = 0.005


# The joiners' process -------------------------------------------------------------------


async def send_joins(url: str, code: str, count: int, spread_s: float) -> None:
    """Open ``count`` connections from 127.0.3.N and send join_lobby evenly over ``spread_s``."""
    from websockets.asyncio.client import connect

    sockets = [
        await connect(url, local_addr=(f"127.0.3.{n + 1}", 0), proxy=None) for n in range(count)
    ]
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)  # "go"
    start = time.perf_counter()
    for n, ws in enumerate(sockets):
        delay = start + n * spread_s / count - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)  # pacing the offered load
        await ws.send(
            json.dumps(
                {"action": "join_lobby", "content": {"lobby_id": code, "name": f"Guest {n + 1}"}}
            )
        )
    print("sent", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)  # "stop"
    for ws in sockets:
        await ws.close()


# The GUI's process ---------------------------------------------------------------------


async def probe(samples: list[float], stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        asked = loop.time()
        await asyncio.sleep(PROBE_S)
        samples.append((loop.time() - asked - PROBE_S) * 1000)


async def measure(count: int, idle_s: float) -> dict[str, Any]:
    from lobbyhost_app.app import build, shutdown
    from signalling_server import Limits
    from tests.qt_fixtures import loopback_settings

    with tempfile.TemporaryDirectory(prefix="lobbyhost-lag-") as tmp:
        parts = build(loopback_settings(Path(tmp) / "settings.ini", "Host"))
        window, host = parts.window, parts.host
        # Every request must reach the window (the default cap keeps 32 waiting).
        host.server_limits = Limits(pending_per_lobby=max(32, count))
        window.resize(1100, 780)
        window.show()
        await host.open_lobby(max_guests=8)
        assert host.server_url is not None and host.code is not None
        joiners = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.benchmarks.gui_lag",
            "--joiners",
            host.server_url,
            host.code,
            str(count),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        assert joiners.stdin is not None and joiners.stdout is not None
        try:
            async with asyncio.timeout(30):
                assert (await joiners.stdout.readline()).strip() == b"ready"

            idle: list[float] = []
            stop = asyncio.Event()
            task = asyncio.create_task(probe(idle, stop))
            await asyncio.sleep(idle_s)  # the idle window being measured
            stop.set()
            await task

            burst: list[float] = []
            stop = asyncio.Event()
            all_shown = asyncio.get_running_loop().create_future()

            def check(*_: object) -> None:
                if host.requests.rowCount() >= count and not all_shown.done():
                    all_shown.set_result(time.perf_counter())

            host.requests.rowsInserted.connect(check)
            task = asyncio.create_task(probe(burst, stop))
            started = time.perf_counter()
            joiners.stdin.write(b"go\n")
            async with asyncio.timeout(30):
                shown_at = await all_shown
            await asyncio.sleep(0.5)  # keep probing while the last cards settle
            stop.set()
            await task
            joiners.stdin.write(b"stop\n")
            async with asyncio.timeout(30):
                await joiners.wait()
        finally:
            if joiners.returncode is None:
                joiners.kill()
                await joiners.wait()
            await shutdown(parts)
            parts.window.allow_close()
            parts.window.close()
    return {
        "requests": count,
        "idle_lag_ms": summary(idle),
        "burst_lag_ms": summary(burst),
        "all_requests_shown_after_ms": (shown_at - started) * 1000,
    }


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "samples": len(ordered),
        "p50": statistics.median(ordered),
        "p99": ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))],
        "max": ordered[-1],
    }


def table(result: dict[str, Any]) -> str:
    idle, burst = result["idle_lag_ms"], result["burst_lag_ms"]
    verdict = "PASS" if burst["p99"] < 50 else "FAIL"
    return "\n".join(
        [
            "| event-loop lag, ms | p50 | p99 | max | target |",
            "|---|---|---|---|---|",
            f"| idle, lobby open (baseline) | {idle['p50']:.2f} | {idle['p99']:.2f} | "
            f"{idle['max']:.2f} | |",
            f"| {result['requests']} requests arriving within 1 s | {burst['p50']:.2f} | "
            f"{burst['p99']:.2f} | {burst['max']:.2f} | p99 < 50: {verdict} |",
            "",
            f"All {result['requests']} requests were on screen "
            f"{result['all_requests_shown_after_ms']:.0f} ms after the first was sent.",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--idle", type=float, default=2.0, help="seconds of idle baseline")
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--joiners", nargs=3, metavar=("URL", "CODE", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.joiners:
        url, code, count = args.joiners
        asyncio.run(send_joins(url, code, int(count), 1.0))
        return

    import qasync

    from lobbyhost_app.app import create_application

    app = create_application(sys.argv[:1])
    with asyncio.Runner(loop_factory=lambda: qasync.QEventLoop(app)) as runner:
        result = runner.run(measure(args.requests, args.idle))
    print(table(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
