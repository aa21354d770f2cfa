"""Take the README's screenshots of the browser guest page, connected, at phone and desktop width.

The lobby has two guests: the page shows its member list and chat from the host
and from the other guest.

Run from the repository root (as root on Debian 12 with ``chromium`` installed)::

    .venv/bin/python resources/screenshots/browser_guest.py [OUTPUT_DIR]

It writes ``guest-phone.png`` (390 px wide) and ``guest-desktop.png`` (1280 px).
The scene is real: ``lobbyhost --headless`` on 127.0.0.1 (ICE on 127.0.0.1, no
ICE servers) accepts the guests, Debian's chromium (driven by Playwright, never a
downloaded browser) joins through the invite link as Bob and, in another tab, as
Cleo, and everyone chats. As
root the script first moves itself into a fresh network namespace that has
only ``lo``, so the browser can reach nothing but loopback; it refuses to run
where other interfaces are visible.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import socket
import sys
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, Page, async_playwright, expect

OUTPUT_DIR = Path(__file__).resolve().parent
ROOT = OUTPUT_DIR.parents[1]
# Chromium's flags are the browser tests' own (run from a source checkout).
sys.path.insert(0, str(ROOT))
from tests.browser.harness import CHROMIUM, CHROMIUM_FLAGS  # noqa: E402

NETNS_ENV = "LOBBYHOST_NETNS"
WAIT_MS = 20_000


def enter_loopback_namespace() -> None:
    """As root, re-run this script inside a new network namespace with only ``lo`` up."""
    if os.geteuid() != 0 or os.environ.get(NETNS_ENV) or shutil.which("unshare") is None:
        return
    os.environ[NETNS_ENV] = "1"
    command = ["unshare", "--net", "--", "sh", "-c", 'ip link set lo up && exec "$@"', "sh"]
    os.execvp("unshare", [*command, sys.executable, *sys.argv])  # noqa: S606, S607


class HeadlessHost:
    """``lobbyhost --headless`` as a child process: JSON lines out, commands in."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    async def expect(self, event: str) -> dict[str, Any]:
        assert self.process.stdout is not None
        async with asyncio.timeout(WAIT_MS / 1000):
            while True:
                raw = await self.process.stdout.readline()
                if not raw:
                    raise RuntimeError(f"the host ended before {event}")
                line: dict[str, Any] = json.loads(raw)
                if line.get("event") == event:
                    return line

    async def send(self, command: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(command).encode() + b"\n")
        await self.process.stdin.drain()


async def join(page: Page, host: HeadlessHost, link: str, name: str) -> None:
    """Join as ``name`` through the invite link and get accepted."""
    await page.goto(link)
    await page.get_by_label("Your name").fill(name)
    await page.get_by_role("button", name="Join").click()
    request = await host.expect("request_to_join")
    await host.send({"accept": request["connection_id"]})
    await expect(page.get_by_role("status")).to_have_text("Connected", timeout=WAIT_MS)


async def say(page: Page, host: HeadlessHost, text: str) -> None:
    message = page.get_by_label("Message")
    await message.fill(text)
    await message.press("Enter")
    await host.expect("chat")


async def stage(page: Page, browser: Browser, host: HeadlessHost, link: str) -> None:
    """Bob joins, Cleo joins in another tab, everyone chats a little."""
    await join(page, host, link, "Bob")
    await host.send({"chat": "Welcome, Bob! We start as soon as Cleo is in."})
    await say(page, host, "Hi Ann, ready when you are.")
    cleo_context = await browser.new_context(permissions=["camera", "microphone"])
    cleo = await cleo_context.new_page()
    await join(cleo, host, link, "Cleo")
    members = page.get_by_role("list", name="Members").get_by_role("listitem")
    await expect(members).to_have_count(3, timeout=WAIT_MS)
    await say(cleo, host, "Hi all! Cleo here.")
    await host.send({"chat": "Great. Red team or blue team?"})
    await expect(page.locator("#chat-log li")).to_have_count(4, timeout=WAIT_MS)
    message = page.get_by_label("Message")
    await expect(page.locator("#rtt")).to_have_text(re.compile(r"\d"), timeout=WAIT_MS)
    await message.fill("Blue, please")
    await page.locator("body").click(position={"x": 1, "y": 1})  # no focus ring in the picture


async def main(output_dir: Path) -> None:
    names = [name for _, name in socket.if_nameindex()]
    if names != ["lo"]:
        raise SystemExit(f"refusing to run with interfaces {names}: run as root (see docstring)")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "import sys; from lobbyhost_app.cli import main; sys.exit(main(sys.argv[1:]))",
        "--headless",
        "--listen",
        "127.0.0.1:0",
        "--ice-address",
        "127.0.0.1",
        "--name",
        "Ann",
        cwd=ROOT,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    host = HeadlessHost(process)
    try:
        started = await host.expect("lobby_started")
        link = f"http://127.0.0.1:{started['port']}/join/{started['lobby_id']}"
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=str(CHROMIUM), args=list(CHROMIUM_FLAGS)
            )
            context = await browser.new_context(
                permissions=["camera", "microphone"], viewport={"width": 390, "height": 844}
            )
            page = await context.new_page()
            await stage(page, browser, host, link)
            await page.screenshot(path=output_dir / "guest-phone.png")
            await page.set_viewport_size({"width": 1280, "height": 800})
            await page.screenshot(path=output_dir / "guest-desktop.png")
            await browser.close()
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()
    print(f"wrote {output_dir / 'guest-phone.png'} and {output_dir / 'guest-desktop.png'}")


if __name__ == "__main__":
    enter_loopback_namespace()
    asyncio.run(main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUTPUT_DIR))
