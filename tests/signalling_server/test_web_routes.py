"""The browser guest page's HTTP routes: pure routing, the files on disk, and a real server."""

from __future__ import annotations

import asyncio
import http.client
from http import HTTPStatus
from pathlib import Path

import pytest

from signalling_server import ServerConfig, serve
from signalling_server.config import config_from_mapping, default_web_root
from signalling_server.http_routes import CONTENT_SECURITY_POLICY, web_reply
from signalling_server.web_assets import WebAssets, load_web_assets
from tests.signalling_server.wsclient import WsClient
from tests.timeouts import scaled

WEB_ROOT = Path(__file__).resolve().parents[2] / "resources" / "web"


@pytest.fixture(scope="module")
def assets() -> WebAssets:
    loaded = load_web_assets(WEB_ROOT)
    assert loaded is not None
    return loaded


def test_default_web_root_is_the_repositorys_page() -> None:
    """ServerConfig finds resources/web of the source tree by default; TOML may name another."""
    assert default_web_root() == WEB_ROOT
    assert ServerConfig().web_root == WEB_ROOT
    assert config_from_mapping({"web_root": "/srv/page"}).web_root == Path("/srv/page")


def test_the_page_is_plain_files_with_nothing_from_elsewhere(assets: WebAssets) -> None:
    """index.html, style.css and the JS modules are served; none of them names another host."""
    assert {"index.html", "style.css", "app.js", "code.js", "peer.js", "signalling.js"} <= set(
        assets.files
    )
    for name, asset in assets.files.items():
        text = asset.body.decode()
        assert "http://" not in text and "https://" not in text, name
        assert "//cdn" not in text, name
    index = assets.index.body.decode()
    assert "<script>" not in index and " on" not in index.split("<body>")[1].split(">")[0]


@pytest.mark.parametrize("path", ["/join", "/join/", "/join/K7QX2M", "/join/k7qx-2m"])
def test_join_paths_serve_the_page_with_a_strict_policy(assets: WebAssets, path: str) -> None:
    """/join and /join/<code> answer index.html with CSP (no inline script), nosniff and no referrer."""
    reply = web_reply(path, assets)
    assert reply is not None
    assert reply.status is HTTPStatus.OK
    assert reply.content_type == "text/html; charset=utf-8"
    assert reply.body == assets.index.body
    headers = dict(reply.headers)
    assert headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert "script-src 'self';" in CONTENT_SECURITY_POLICY
    assert "unsafe-inline" not in CONTENT_SECURITY_POLICY
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"


@pytest.mark.parametrize(
    ("name", "content_type"),
    [("app.js", "text/javascript; charset=utf-8"), ("style.css", "text/css; charset=utf-8")],
)
def test_assets_are_served_with_their_type(assets: WebAssets, name: str, content_type: str) -> None:
    """/web/<file> answers the file with its content type."""
    reply = web_reply(f"/web/{name}", assets)
    assert reply is not None and reply.status is HTTPStatus.OK
    assert reply.content_type == content_type
    assert reply.body == (WEB_ROOT / name).read_bytes()


@pytest.mark.parametrize(
    "path",
    [
        "/web/../signalling_server/server.py",
        "/web/%2e%2e/README.md",
        "/web/",
        "/web/missing.js",
        "/web/sub/app.js",
        "/join/K7QX2M/extra",
    ],
)
def test_anything_else_under_the_page_is_not_found(assets: WebAssets, path: str) -> None:
    """Only the allow-listed files exist: no path walks out of the folder (None falls to 404)."""
    reply = web_reply(path, assets)
    assert reply is None or reply.status is HTTPStatus.NOT_FOUND


def test_other_paths_are_not_the_pages_business(assets: WebAssets) -> None:
    """Paths outside /join and /web/ are left to the other routes."""
    assert web_reply("/healthz", assets) is None
    assert web_reply("/joiner", assets) is None


def test_only_plain_names_of_known_types_are_loaded(tmp_path: Path) -> None:
    """Hidden files, unknown types, folders and symlinks in the web root are never served."""
    (tmp_path / "index.html").write_text("<!doctype html>")
    (tmp_path / ".secret.js").write_text("x")
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "Upper.js").write_text("x")
    (tmp_path / "sub.js").mkdir()
    (tmp_path / "link.js").symlink_to(tmp_path / "notes.txt")
    loaded = load_web_assets(tmp_path)
    assert loaded is not None
    assert set(loaded.files) == {"index.html"}


def test_without_a_page_join_says_so(tmp_path: Path) -> None:
    """No web root (or one without index.html): /join is a 404 that says the page is not installed."""
    assert load_web_assets(None) is None
    assert load_web_assets(tmp_path) is None
    reply = web_reply("/join/K7QX2M", None)
    assert reply is not None and reply.status is HTTPStatus.NOT_FOUND
    assert b"not installed" in reply.body


def _get(port: int, path: str) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=scaled(5))
    connection.request("GET", path)
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


async def test_a_real_server_sends_the_page_and_its_headers() -> None:
    """Through the websocket port, /join/<code> is the page with the security headers; the websocket still works."""
    async with serve(ServerConfig(port=0)) as server:
        response = await asyncio.to_thread(_get, server.port, "/join/K7QX2M")
        assert response.status == 200
        assert response.getheader("Content-Type") == "text/html; charset=utf-8"
        assert response.getheader("Content-Security-Policy") == CONTENT_SECURITY_POLICY
        assert response.getheader("X-Content-Type-Options") == "nosniff"
        script = await asyncio.to_thread(_get, server.port, "/web/app.js")
        assert script.getheader("Content-Type") == "text/javascript; charset=utf-8"
    async with serve(ServerConfig(port=0, web_root=None)) as bare:
        missing = await asyncio.to_thread(_get, bare.port, "/join")
        assert missing.status == 404


async def test_a_browser_opening_the_server_root_is_sent_to_the_join_page() -> None:
    """GET / without a websocket upgrade redirects to /join; a websocket on / still works."""
    async with serve(ServerConfig(port=0)) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        head = (await reader.read()).split(b"\r\n\r\n")[0].decode()
        writer.close()
        await writer.wait_closed()
        client = await WsClient.open(server.url)
        await client.act("ping", t=1)
        assert (await client.expect("pong")) == {"t": 1}
        await client.ws.close()
    assert head.startswith("HTTP/1.1 302")
    assert "\r\nlocation: /join" in head.lower()
