"""The server speaking TLS itself (``wss://``, ``https://``) and behind a TLS-terminating proxy.

Certificates are made in the test (self-signed, for 127.0.0.1); clients trust
exactly that certificate. Everything is on loopback.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import ssl
import subprocess
from pathlib import Path

import pytest
from websockets.asyncio.client import connect

from signalling_server import Limits, ServerConfig, serve
from signalling_server.config import config_from_mapping
from signalling_server.errors import ConfigError
from signalling_server.transport.client_address import ClientAddresses
from tests.signalling_server.test_http_and_cli import PROCESS_TIMEOUT, ROOT, cli_command
from tests.signalling_server.tls_proxy import tls_proxy
from tests.signalling_server.wsclient import EVENT_TIMEOUT
from tests.tls_certificates import CertificateFiles, self_signed_certificate


@pytest.fixture
def certificate(tmp_path: Path) -> CertificateFiles:
    return self_signed_certificate(tmp_path)


def trusting(certificate: CertificateFiles) -> ssl.SSLContext:
    """A client context that trusts this one certificate, with hostname checks on."""
    return ssl.create_default_context(cafile=certificate.cert)


def https_get(port: int, path: str, context: ssl.SSLContext) -> tuple[int, bytes]:
    connection = http.client.HTTPSConnection(
        "127.0.0.1", port, timeout=EVENT_TIMEOUT, context=context
    )
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


async def start_lobby(
    url: str, context: ssl.SSLContext, address: str = "127.0.0.1"
) -> dict[str, object]:
    """Open a websocket to ``url`` from ``address``, start a lobby, give back the server's answer."""
    async with connect(url, ssl=context, local_addr=(address, 0), proxy=None) as ws:
        await ws.send(json.dumps({"action": "start_lobby", "content": {}}))
        async with asyncio.timeout(EVENT_TIMEOUT):
            answer: dict[str, object] = json.loads(await ws.recv())
        return answer


async def test_with_a_certificate_the_server_speaks_wss_and_https(
    certificate: CertificateFiles,
) -> None:
    """tls_cert and tls_key: the URL is wss://, a trusting client starts a lobby over it, /healthz answers over https."""
    config = ServerConfig(port=0, tls_cert=certificate.cert, tls_key=certificate.key)
    async with serve(config) as server:
        assert server.url == f"wss://127.0.0.1:{server.port}/"
        answer = await start_lobby(server.url, trusting(certificate))
        assert answer["event"] == "lobby_started"
        status, body = await asyncio.to_thread(
            https_get, server.port, "/healthz", trusting(certificate)
        )
        assert status == 200 and json.loads(body)["lobbies"] == 1


async def test_a_client_that_does_not_trust_the_certificate_is_refused(
    certificate: CertificateFiles,
) -> None:
    """A client with only the system's CAs fails the TLS handshake with a certificate error; the server carries on."""
    config = ServerConfig(port=0, tls_cert=certificate.cert, tls_key=certificate.key)
    async with serve(config) as server:
        with pytest.raises(ssl.SSLCertVerificationError):
            await start_lobby(server.url, ssl.create_default_context())
        answer = await start_lobby(server.url, trusting(certificate))
        assert answer["event"] == "lobby_started"


def test_tls_settings_that_cannot_work_are_config_errors(
    certificate: CertificateFiles, tmp_path: Path
) -> None:
    """A certificate without its key, or a key that is not one, is refused with a sentence naming the problem."""
    with pytest.raises(ConfigError, match="give both or neither"):
        ServerConfig(tls_cert=certificate.cert)
    bad_key = tmp_path / "bad.key"
    bad_key.write_text("not a key")
    done = subprocess.run(
        cli_command("--port", "0", "--tls-cert", str(certificate.cert), "--tls-key", str(bad_key)),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=PROCESS_TIMEOUT,
        check=False,
    )
    assert done.returncode == 2
    assert f"cannot use certificate {certificate.cert} with key {bad_key}" in done.stderr
    assert "Traceback" not in done.stderr


async def test_the_cli_serves_wss_with_tls_flags(certificate: CertificateFiles) -> None:
    """lobbyhost-server --tls-cert --tls-key prints a wss:// URL that a trusting client uses."""
    process = await asyncio.create_subprocess_exec(
        *cli_command(
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--tls-cert",
            str(certificate.cert),
            "--tls-key",
            str(certificate.key),
        ),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        async with asyncio.timeout(PROCESS_TIMEOUT):
            line = (await process.stdout.readline()).decode().strip()
        url = line.rsplit(" ", 1)[-1]
        assert line.startswith("lobbyhost-server ") and url.startswith("wss://127.0.0.1:")
        answer = await start_lobby(url, trusting(certificate))
        assert answer["event"] == "lobby_started"
    finally:
        process.terminate()
        await process.communicate()


async def test_behind_a_tls_proxy_limits_count_each_client_not_the_proxy(
    certificate: CertificateFiles,
) -> None:
    """Behind a TLS-terminating proxy trusted for X-Forwarded-For, two clients each get their own per-address budget; untrusted, they share the proxy's."""
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(certificate.cert, certificate.key)
    for trusted, second_allowed in (((), False), (("127.0.0.1",), True)):
        config = ServerConfig(
            host="127.0.0.1",
            port=0,
            limits=Limits(lobbies_per_address=1),
            trusted_proxies=trusted,
        )
        async with serve(config) as server, tls_proxy(tls, ("127.0.0.1", server.port)) as port:
            url = f"wss://127.0.0.1:{port}/"
            context = trusting(certificate)
            async with (
                connect(url, ssl=context, local_addr=("127.0.0.2", 0), proxy=None) as first,
                connect(url, ssl=context, local_addr=("127.0.0.3", 0), proxy=None) as second,
            ):
                for ws in (first, second):
                    await ws.send(json.dumps({"action": "start_lobby", "content": {}}))
                async with asyncio.timeout(EVENT_TIMEOUT):
                    answers = [json.loads(await ws.recv()) for ws in (first, second)]
            assert answers[0]["event"] == "lobby_started"
            assert answers[1]["event"] == ("lobby_started" if second_allowed else "error")


@pytest.mark.parametrize(
    ("peer", "forwarded", "client"),
    [
        ("127.0.0.1", ["203.0.113.5"], "203.0.113.5"),
        ("127.0.0.1", ["198.51.100.9, 203.0.113.5"], "203.0.113.5"),  # the left one is a claim
        ("127.0.0.1", ["203.0.113.5, 10.0.0.2"], "203.0.113.5"),  # 10.0.0.2: a trusted hop
        ("127.0.0.1", [], "127.0.0.1"),
        ("127.0.0.1", ["unknown"], "127.0.0.1"),
        ("198.51.100.9", ["203.0.113.5"], "198.51.100.9"),  # not a trusted proxy: ignored
    ],
)
def test_the_client_address_is_taken_from_trusted_proxies_only(
    peer: str, forwarded: list[str], client: str
) -> None:
    """X-Forwarded-For counts only from a trusted proxy, read from the right, past trusted hops."""
    addresses = ClientAddresses(["127.0.0.1", "10.0.0.0/8"])
    headers = [(b"x-forwarded-for", value.encode()) for value in forwarded]
    assert addresses.resolve(peer, headers) == client


def test_tls_and_proxy_keys_load_from_the_config_file(tmp_path: Path) -> None:
    """tls_cert, tls_key and trusted_proxies in TOML become paths and a tuple; a bad proxy is a ConfigError naming it."""
    config = config_from_mapping(
        {"tls_cert": "/etc/c.pem", "tls_key": "/etc/k.pem", "trusted_proxies": ["10.0.0.0/8"]}
    )
    assert (config.tls_cert, config.tls_key) == (Path("/etc/c.pem"), Path("/etc/k.pem"))
    assert config.trusted_proxies == ("10.0.0.0/8",)
    with pytest.raises(ConfigError, match=r"proxy\.example"):
        config_from_mapping({"trusted_proxies": ["proxy.example"]})
