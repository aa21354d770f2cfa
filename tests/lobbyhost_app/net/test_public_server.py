"""Hosting on a public lobbyhost-server over wss://: directly, and behind a TLS proxy.

The server's certificate is self-signed, made in the test; the clients trust it
through ``SSL_CERT_FILE``, as a system trusting that CA would. Loopback only.
"""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from lobbyhost_app.invite import parse_join_target, remote_invite_link
from lobbyhost_app.net.errors import NetError
from lobbyhost_app.net.guest import GuestSession
from lobbyhost_app.net.hosting import HostingOptions, HostingService
from lobbyhost_app.net.signalling import SignallingClient
from lobbyhost_app.session_values import GuestEvent, GuestPhase, GuestStatus
from signalling_server import Limits, ServerConfig, serve
from tests.signalling_server.tls_proxy import tls_proxy
from tests.tls_certificates import CertificateFiles, self_signed_certificate

from ..loopback import LOOPBACK
from .recorder import Recorder


@pytest.fixture
def certificate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CertificateFiles:
    """A self-signed certificate for 127.0.0.1 that this process (and its children) trusts."""
    files = self_signed_certificate(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(files.cert))
    return files


async def host_and_guest_connect(server_url: str) -> None:
    """A host on the remote server at ``server_url``, and a guest by its invite link, connected."""
    hosting = HostingService(HostingOptions(remote_url=server_url, ice=LOOPBACK, auto_accept=True))
    await hosting.start()
    try:
        assert hosting.server is None  # nothing embedded
        opened = await hosting.open_lobby(display_name="Ann")
        link = remote_invite_link(server_url, opened.lobby_id)
        assert link.startswith("https://")
        target = parse_join_target(link)
        assert target.server_url == server_url and target.code == opened.lobby_id
        signalling = SignallingClient(target.server_url, reconnect=False)
        await signalling.connect()
        guest = GuestSession(signalling, LOOPBACK)
        progress: Recorder[GuestEvent] = Recorder()
        guest.add_listener(progress)
        await guest.join(target.code, "Bob")
        await progress.wait_for(
            lambda e: isinstance(e, GuestStatus) and e.phase is GuestPhase.CONNECTED
        )
        await guest.leave()
    finally:
        await hosting.stop()


async def test_host_and_guest_meet_on_a_server_that_speaks_wss(
    certificate: CertificateFiles,
) -> None:
    """The server with --tls-cert/--tls-key: the host's lobby and the guest's https invite link both work over wss://."""
    config = ServerConfig(port=0, tls_cert=certificate.cert, tls_key=certificate.key)
    async with serve(config) as server:
        await host_and_guest_connect(server.url)


async def test_host_and_guest_meet_through_a_tls_proxy(certificate: CertificateFiles) -> None:
    """A plain server behind a TLS-terminating proxy: host and guest meet over wss:// through it."""
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(certificate.cert, certificate.key)
    config = ServerConfig(
        host="127.0.0.1",
        port=0,
        limits=Limits(password_hash_iterations=1),
        trusted_proxies=("127.0.0.1",),
    )
    async with serve(config) as server, tls_proxy(tls, ("127.0.0.1", server.port)) as port:
        await host_and_guest_connect(f"wss://127.0.0.1:{port}/")


async def test_an_untrusted_certificate_is_a_readable_error(
    tmp_path: Path, certificate: CertificateFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server whose certificate the client does not trust: NetError naming the server, not a traceback."""
    (tmp_path / "other").mkdir()
    other = self_signed_certificate(tmp_path / "other", name="someone-else")
    monkeypatch.setenv("SSL_CERT_FILE", str(other.cert))
    config = ServerConfig(port=0, tls_cert=certificate.cert, tls_key=certificate.key)
    async with serve(config) as server:
        url = server.url
        with pytest.raises(NetError) as raised:
            await SignallingClient(url, reconnect=False).connect()
    said = str(raised.value)
    assert said.startswith(f"cannot reach the signalling server at {url}: ")
    assert "its TLS certificate is not trusted on this computer" in said
