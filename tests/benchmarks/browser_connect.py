"""Browser guest: click on Join to "Connected", against a bare aiortc host, in one run.

Run as root from the repository root (the benchmark re-executes itself in a
network namespace that has nothing but ``lo``, as the test suite does)::

    .venv/bin/python -m tests.benchmarks.browser_connect [--rounds 15] [--json PATH]

One warm Debian Chromium (Playwright, ``/usr/bin/chromium``) joins, round after
round, in rotating order:

- **LobbyHost**: the embedded signalling server and a ``HostSession`` with
  auto-accept in this process, ICE on 127.0.0.1 only, no ICE servers; the real
  guest page at ``/join?code=...``: type a name, click Join, wait for the
  status "Connected" (the ``lobby`` data channel is open). Twice: a host that
  keeps its next offer made ahead (as shipped), and one with ``prepare_offers=False``
  that makes each offer on accept (as before), each with a lobby of its own.
- **bare**: a minimal websockets server in this process serving a minimal page;
  on click the page opens a websocket and says "join", an aiortc host creates a
  peer connection with the same two data channels and sends its offer, the page
  answers and trickles its candidates, "Connected" when ``lobby`` opens. No
  lobby, no approval, no validation: the least signalling a browser guest needs.

Both servers and every host run in a child process of their own (as on the
host's computer), so the Python side of Playwright driving the browser never
shares their event loop. Both pages are loaded before the clock starts (CSP
bypassed so the stopwatch can be injected); the page itself measures from the
click's submit event to the status text changing to "Connected"
(``performance.now()``), so Playwright's polling is not in the figure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from http import HTTPStatus
from pathlib import Path
from typing import Any

from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.sdp import candidate_from_sdp
from playwright.async_api import Browser, Page
from websockets.asyncio.server import ServerConnection
from websockets.asyncio.server import serve as serve_websockets
from websockets.http11 import Request, Response

from lobbyhost_app.net.host import HostSession
from lobbyhost_app.net.ice import IceSettings, install_address_allow_list
from lobbyhost_app.net.signalling import SignallingClient
from signalling_server import Limits, ServerConfig, serve
from tests.browser.harness import browser_unavailable_reason, chromium, ms

NETNS_ENV = "LOBBYHOST_NETNS"
LOOPBACK = IceSettings(allowed_addresses=("127.0.0.1",))
#: The page-side stopwatch: submit of the join form to the status saying "Connected".
STOPWATCH = """() => {
  window.__joinClicked = null;
  window.__connected = null;
  document.querySelector("form").addEventListener("submit", () => {
    window.__joinClicked = performance.now();
  }, { capture: true });
  const status = document.querySelector("[role=status]");
  new MutationObserver(() => {
    if (window.__connected === null && /^Connected/.test(status.textContent)) {
      window.__connected = performance.now();
    }
  }).observe(status, { childList: true, characterData: true, subtree: true });
}"""

BARE_PAGE = """<!doctype html>
<meta charset="utf-8"><title>bare</title>
<form><input id="name" aria-label="Your name"><button>Join</button></form>
<p role="status">Idle</p>
<script>
document.querySelector("form").addEventListener("submit", (event) => {
  event.preventDefault();
  const status = document.querySelector("[role=status]");
  const ws = new WebSocket(`ws://${location.host}/ws`);
  const pc = new RTCPeerConnection({ iceServers: [] });
  pc.addEventListener("icecandidate", (e) => {
    if (e.candidate && e.candidate.candidate) ws.send(JSON.stringify({ candidate: e.candidate.toJSON() }));
  });
  pc.addEventListener("datachannel", (e) => {
    if (e.channel.label === "lobby") e.channel.addEventListener("open", () => { status.textContent = "Connected"; });
  });
  ws.addEventListener("open", () => ws.send(JSON.stringify({ join: document.getElementById("name").value })));
  ws.addEventListener("message", async (e) => {
    const message = JSON.parse(e.data);
    if (message.offer) {
      await pc.setRemoteDescription(message.offer);
      await pc.setLocalDescription(await pc.createAnswer());
      ws.send(JSON.stringify({ answer: { type: "answer", sdp: pc.localDescription.sdp } }));
    }
  });
});
</script>
"""


async def _bare_host(ws: ServerConnection) -> None:
    """On "join": offer with the two channels, take the answer and the candidates."""
    pc: RTCPeerConnection | None = None
    try:
        async for raw in ws:
            message = json.loads(raw)
            if "join" in message:
                pc = RTCPeerConnection(LOOPBACK.configuration())
                pc.createDataChannel("lobby")
                pc.createDataChannel("game")
                await pc.setLocalDescription(await pc.createOffer())
                offer = {"type": "offer", "sdp": pc.localDescription.sdp}
                await ws.send(json.dumps({"offer": offer}))
            elif "answer" in message and pc is not None:
                answer = message["answer"]
                await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
            elif "candidate" in message and pc is not None:
                line = message["candidate"]["candidate"].removeprefix("candidate:")
                candidate = candidate_from_sdp(line)
                candidate.sdpMid = message["candidate"].get("sdpMid")
                candidate.sdpMLineIndex = message["candidate"].get("sdpMLineIndex")
                await pc.addIceCandidate(candidate)
    finally:
        if pc is not None:
            await pc.close()


@asynccontextmanager
async def bare_server() -> AsyncIterator[str]:
    """The minimal server: the page at ``/``, the bare host's websocket at ``/ws``."""

    def process_request(connection: ServerConnection, request: Request) -> Response | None:
        if request.path == "/":
            response = connection.respond(HTTPStatus.OK, BARE_PAGE)
            response.headers["Content-Type"] = "text/html; charset=utf-8"
            return response
        return None

    async with serve_websockets(
        _bare_host, "127.0.0.1", 0, process_request=process_request, compression=None
    ) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield f"http://127.0.0.1:{port}/"


async def _measure(page: Page, name: str) -> float:
    """One click on Join: milliseconds until the page says "Connected"."""
    await page.evaluate(STOPWATCH)
    await page.get_by_label("Your name").fill(name)
    await page.get_by_role("button", name="Join").click()
    await page.wait_for_function("window.__connected !== null", timeout=ms(20))
    elapsed: float = await page.evaluate("window.__connected - window.__joinClicked")
    return elapsed


async def ours_round(browser: Browser, url: str, code: str, name: str) -> float:
    """Open the guest page in a fresh context, click Join, time it."""
    context = await browser.new_context(permissions=["camera", "microphone"], bypass_csp=True)
    try:
        page = await context.new_page()
        await page.goto(f"{url}join/{code}")
        await page.wait_for_function("document.documentElement.dataset.ready === 'true'")
        return await _measure(page, name)
    finally:
        await context.close()


async def bare_round(browser: Browser, url: str, name: str) -> float:
    """The bare page in a fresh context, click Join, time it."""
    context = await browser.new_context(permissions=["camera", "microphone"], bypass_csp=True)
    try:
        page = await context.new_page()
        await page.goto(url)
        return await _measure(page, name)
    finally:
        await context.close()


async def serve_hosts() -> None:
    """The hosts' side, in a process of its own: both servers and hosts, until stdin closes.

    Prints one JSON line: the guest page's base URL, the two lobby codes, the bare page.
    """
    install_address_allow_list(LOOPBACK.allowed_addresses)
    limits = Limits(joins_per_address_per_minute=100_000, pending_per_lobby=64)
    async with serve(ServerConfig(port=0, limits=limits)) as server, bare_server() as bare_url:
        hosts = []
        try:
            for prepare in (True, False):
                signalling = SignallingClient(server.url)
                await signalling.connect()
                host = HostSession(signalling, LOOPBACK, auto_accept=True, prepare_offers=prepare)
                hosts.append(host)
                await host.start(max_guests=64)
            place = {
                "page_url": server.url.replace("ws://", "http://"),
                "codes": [host.lobby_id for host in hosts],
                "bare_url": bare_url,
            }
            print(json.dumps(place), flush=True)
            await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        finally:
            for host in hosts:
                await host.close()


@asynccontextmanager
async def hosts_process() -> AsyncIterator[dict[str, Any]]:
    """:func:`serve_hosts` in a child process (what a guest reaches is another machine's
    work, not this process's, which drives the browser); its JSON line."""
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        __spec__.name,
        "--serve-hosts",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert child.stdin is not None and child.stdout is not None
    try:
        line = await asyncio.wait_for(child.stdout.readline(), 60)
        if not line:
            raise SystemExit("the hosts' process ended before it was ready")
        yield json.loads(line)
    finally:
        child.stdin.close()
        try:
            await asyncio.wait_for(child.wait(), 30)
        except TimeoutError:
            child.kill()
            await child.wait()


async def run(rounds: int) -> dict[str, Any]:
    """Warm-up rounds, then ``rounds`` of each host, in rotating order."""
    times: dict[str, list[float]] = {"ours": [], "before": [], "bare": []}
    async with hosts_process() as place, chromium() as browser:
        page_url, codes, bare_url = place["page_url"], place["codes"], place["bare_url"]
        rounds_of = {
            "ours": lambda name: ours_round(browser, page_url, codes[0], name),
            "before": lambda name: ours_round(browser, page_url, codes[1], name),
            "bare": lambda name: bare_round(browser, bare_url, name),
        }
        keys = list(rounds_of)
        for warm in range(2):
            for key in keys:
                await rounds_of[key](f"warm{warm}")
        for n in range(rounds):
            for key in keys[n % 3 :] + keys[: n % 3]:
                times[key].append(await rounds_of[key](f"g{n}"))
            line = ", ".join(f"{key} {times[key][-1]:.1f} ms" for key in keys)
            print(f"round {n + 1}: {line}", flush=True)
    result: dict[str, Any] = {"rounds": rounds, **{f"{k}_ms": v for k, v in times.items()}}
    for key in ("ours", "before"):
        ratios = [o / b for o, b in zip(times[key], times["bare"], strict=True)]
        result[f"{key}_median_ms"] = statistics.median(times[key])
        result[f"{key}_ratio_of_medians"] = statistics.median(times[key]) / statistics.median(
            times["bare"]
        )
        result[f"{key}_median_paired_ratio"] = statistics.median(ratios)
    result["bare_median_ms"] = statistics.median(times["bare"])
    return result


def table(result: dict[str, Any]) -> str:
    """The result as a markdown table."""
    rows = [
        f'Browser guest, click on Join to "Connected" (warm Chromium, loopback), '
        f"medians of {result['rounds']} rounds in rotating order:",
        "",
        "| host | median ms | vs bare (ratio of medians) | vs bare (median of paired ratios) |",
        "|---|---:|---:|---:|",
    ]
    for key, label in (
        ("ours", "LobbyHost (server + HostSession, auto-accept, offer prepared ahead)"),
        ("before", "LobbyHost, offer made on accept (as before)"),
    ):
        rows.append(
            f"| {label} | {result[f'{key}_median_ms']:.1f} "
            f"| {result[f'{key}_ratio_of_medians']:.2f}x "
            f"| {result[f'{key}_median_paired_ratio']:.2f}x |"
        )
    rows.append(
        f"| bare aiortc host, minimal signalling | {result['bare_median_ms']:.1f} | 1.00x | 1.00x |"
    )
    return "\n".join(rows)


def _reexecute_in_loopback_namespace() -> None:
    """As root, run this benchmark again in a network namespace with only ``lo``."""
    if os.environ.get(NETNS_ENV) or os.geteuid() != 0 or shutil.which("unshare") is None:
        return
    os.environ[NETNS_ENV] = "1"
    command = ["unshare", "--net", "--", "sh", "-c", 'ip link set lo up && exec "$@"', "sh"]
    result = subprocess.run([*command, sys.executable, "-m", __spec__.name, *sys.argv[1:]])
    raise SystemExit(result.returncode)


def main() -> None:
    """Parse the options, run in a loopback-only namespace, print the table."""
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks.browser_connect")
    parser.add_argument("--rounds", type=int, default=15, help="rounds of each (15)")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    parser.add_argument("--serve-hosts", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_hosts:
        asyncio.run(serve_hosts())
        return
    _reexecute_in_loopback_namespace()
    reason = browser_unavailable_reason()
    if reason is not None:
        raise SystemExit(f"cannot run: {reason}")
    started = time.monotonic()
    result = asyncio.run(run(args.rounds))
    result["seconds"] = round(time.monotonic() - started, 1)
    print(table(result))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
