"""A browser guest is handed the host's STUN and TURN servers by the embedded server.

coturn runs on 127.0.0.1 with a shared secret the host knows; the embedded
server mints the page's TURN credentials from it. The page's own frames (read
off its websocket) show what it was given, and it connects.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from playwright.async_api import WebSocket

from lobbyhost_app.net.hosting import HostingOptions, HostingService
from lobbyhost_app.net.ice import IceServer, IceSettings
from signalling_server import TurnSecretServer
from tests.coturn import running_coturn

from .harness import page_in_chromium

SECRET = "shared-with-coturn"


async def test_a_browser_guest_is_handed_the_hosts_stun_and_minted_turn_credentials(
    tmp_path: Path,
) -> None:
    """The page gets the host's STUN server and its TURN server with credentials minted for it, and connects."""
    async with running_coturn(tmp_path, secret=SECRET) as coturn:
        hosting = HostingService(
            HostingOptions(
                listen_host="127.0.0.1",
                listen_port=0,
                ice=IceSettings(
                    servers=(IceServer(urls=(coturn.stun_url,)),), allowed_addresses=("127.0.0.1",)
                ),
                turn_secrets=(TurnSecretServer(urls=(coturn.turn_url,), secret=SECRET),),
                auto_accept=True,
            )
        )
        await hosting.start()
        try:
            opened = await hosting.open_lobby(display_name="Ann")
            assert hosting.server is not None
            link = f"http://127.0.0.1:{hosting.server.port}/join/{opened.lobby_id}"
            async with page_in_chromium(link) as bob:
                frames: list[dict[str, Any]] = []

                def watch(ws: WebSocket) -> None:
                    ws.on("framereceived", lambda payload: frames.append(json.loads(payload)))

                bob.page.on("websocket", watch)
                await bob.join("Bob")
                await bob.expect_status("Connected$")
                (accepted,) = [f["content"] for f in frames if f["event"] == "request_accepted"]
                stun, turn = accepted["ice_servers"]
                assert stun == {"urls": [coturn.stun_url]}
                assert turn["urls"] == [coturn.turn_url] and turn["credential"]
                expiry, _, who = turn["username"].partition(":")
                assert int(expiry) > time.time() and who == accepted["connection_id"]
                bob.assert_clean()
        finally:
            await hosting.stop()
