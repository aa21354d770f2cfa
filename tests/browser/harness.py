"""Debian's chromium as a real browser guest, driven by Playwright's async API.

Never a downloaded browser: ``executable_path`` is the Debian package's binary.
The flags and the camera/microphone permission are what loopback WebRTC needs
(NOTES.md): without the permission Chromium hides host candidates behind mDNS
names, without ``--allow-loopback-in-peer-connection`` it gathers no 127.0.0.1
candidate at all.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from playwright.async_api import (
    Browser,
    ConsoleMessage,
    Dialog,
    Locator,
    Page,
    ViewportSize,
    async_playwright,
    expect,
)

from tests.timeouts import scaled

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--allow-loopback-in-peer-connection",
)
PHONE: ViewportSize = {"width": 390, "height": 844}
DESKTOP: ViewportSize = {"width": 1280, "height": 800}
#: Page load, the WebRTC handshake, the first RTT ping (every 2 s).
WAIT_S = 15.0
HOSTILE_NAME = "<img src=x onerror=alert(1)>"


def ms(seconds: float) -> float:
    """A scaled timeout in Playwright's milliseconds."""
    return scaled(seconds) * 1000.0


def only_loopback_interfaces() -> bool:
    """Whether ``lo`` is this network namespace's only interface."""
    return [name for _, name in socket.if_nameindex()] == ["lo"]


def browser_unavailable_reason() -> str | None:
    """Why browser tests cannot run here, or ``None`` when they can."""
    if not CHROMIUM.exists() or shutil.which(str(CHROMIUM)) is None:
        return f"Debian's chromium is missing at {CHROMIUM} (bash .ci/run installs it as root)"
    if not only_loopback_interfaces():
        # Chromium would gather host candidates on every interface; they are
        # only safe where loopback is all there is (root re-runs the suite in
        # such a network namespace: tests/conftest.py).
        return "browser WebRTC tests run only in a loopback-only network namespace (run as root)"
    return None


@contextlib.asynccontextmanager
async def chromium(executable: Path = CHROMIUM) -> AsyncIterator[Browser]:
    """A headless Debian chromium for the duration of the block.

    ``executable`` may be a script that starts Debian's chromium some other way
    (the NAT lab's starts it inside a lab machine's network namespace).
    """
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(executable), args=list(CHROMIUM_FLAGS), timeout=ms(WAIT_S)
        )
        try:
            yield browser
        finally:
            await browser.close()


@dataclass
class GuestPage:
    """The guest page in one browser tab, with what went wrong on it so far."""

    page: Page
    problems: list[str] = field(default_factory=list)

    @property
    def status(self) -> Locator:
        return self.page.get_by_role("status")

    @property
    def chat_lines(self) -> Locator:
        return self.page.get_by_role("list", name="Chat").get_by_role("listitem")

    @property
    def rtt(self) -> Locator:
        return self.page.locator("#rtt")

    async def expect_status(self, pattern: str, within: float = WAIT_S) -> None:
        """Until the status region's text matches ``pattern`` (a regex, from the start)."""
        await expect(self.status).to_have_text(re.compile(f"^{pattern}"), timeout=ms(within))

    async def join(self, name: str, code: str | None = None) -> None:
        """Type the name (and the code, when given) and press Join."""
        if code is not None:
            await self.page.get_by_label("Lobby code").fill(code)
        await self.page.get_by_label("Your name").fill(name)
        await self.page.get_by_role("button", name="Join").click()

    async def say(self, text: str) -> None:
        """Type a chat message and press Enter."""
        message = self.page.get_by_label("Message")
        await expect(message).to_be_enabled(timeout=ms(WAIT_S))
        await message.fill(text)
        await message.press("Enter")

    async def expect_chat(self, who: str, text: str, within: float = WAIT_S) -> None:
        """Until the chat log holds a line from ``who`` saying exactly ``text``."""
        exact = re.compile(f"^{re.escape(who)}{re.escape(text)}$")
        await expect(self.chat_lines.filter(has_text=exact)).to_have_count(1, timeout=ms(within))

    async def expect_rtt(self) -> None:
        await expect(self.rtt).to_have_text(re.compile(r"^\d+(\.\d)? ms$"), timeout=ms(WAIT_S))

    def assert_clean(self) -> None:
        """No script error, console error (CSP violations are ones) or dialog on the page."""
        assert self.problems == []


@contextlib.asynccontextmanager
async def guest_page(
    browser: Browser, url: str, *, viewport: ViewportSize = PHONE
) -> AsyncIterator[GuestPage]:
    """The page at ``url`` in a fresh context, once its script has run."""
    context = await browser.new_context(permissions=["camera", "microphone"], viewport=viewport)
    try:
        page = await context.new_page()
        guest = GuestPage(page)

        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error":
                guest.problems.append(f"console error: {message.text}")

        async def on_dialog(dialog: Dialog) -> None:
            guest.problems.append(f"dialog: {dialog.message}")
            await dialog.dismiss()

        page.on("console", on_console)
        page.on("pageerror", lambda error: guest.problems.append(f"page error: {error}"))
        page.on("dialog", on_dialog)
        await page.goto(url, timeout=ms(WAIT_S))
        await expect(page.locator("html")).to_have_attribute(
            "data-ready", "true", timeout=ms(WAIT_S)
        )
        yield guest
    finally:
        await context.close()


@contextlib.asynccontextmanager
async def page_in_chromium(url: str, *, viewport: ViewportSize = PHONE) -> AsyncIterator[GuestPage]:
    """A fresh chromium showing the page at ``url``."""
    async with chromium() as browser, guest_page(browser, url, viewport=viewport) as guest:
        yield guest
