"""TLS on the listening socket, so the server answers ``wss://`` and ``https://`` itself."""

from __future__ import annotations

import ssl
from pathlib import Path

from ..errors import ConfigError


def server_tls_context(cert: Path, key: Path) -> ssl.SSLContext:
    """A server-side context with Python's secure defaults (TLS 1.2 and up) and this chain.

    Raises :class:`ConfigError` naming the file when the certificate or key
    cannot be read or do not belong together.
    """
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(certfile=cert, keyfile=key)
    except FileNotFoundError as exc:
        raise ConfigError(f"TLS: no such file: {exc.filename}") from exc
    except OSError as exc:  # ssl.SSLError included: not PEM, or a key of another cert
        raise ConfigError(
            f"TLS: cannot use certificate {cert} with key {key}: {exc.strerror or exc}"
        ) from exc
    return context
