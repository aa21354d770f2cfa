"""Secrets (the TURN shared secret) in the system keyring, never in the settings file.

The ``keyring`` library reaches the platform's store: Windows Credential
Locker, macOS Keychain, the Secret Service (GNOME Keyring, KWallet) on Linux.
Where it finds none, or only a backend that writes plain text files, the
secret is kept in memory for this run and :attr:`SecretStore.note` says so,
for the settings dialog to show.
"""

from __future__ import annotations

import contextlib
import logging

import keyring
import keyring.errors
from keyring.backend import KeyringBackend

logger = logging.getLogger(__name__)

#: The keyring service name LobbyHost's secrets are stored under.
SERVICE = "LobbyHost"
#: Backends that are no keyring at all: none found, or plain text files on disk.
_NOT_SECRET = frozenset({"keyring.backends.fail.Keyring", "keyrings.alt.file.PlaintextKeyring"})

NO_KEYRING_NOTE = (
    "No system keyring was found (such as GNOME Keyring, KWallet, the macOS Keychain or "
    "Windows Credential Locker): the TURN secret is kept only until LobbyHost quits."
)


def _backend_name(backend: KeyringBackend) -> str:
    return f"{type(backend).__module__}.{type(backend).__qualname__}"


class SecretStore:
    """Named secrets in a keyring; in memory for this run when there is no usable keyring."""

    def __init__(self, backend: KeyringBackend | None = None) -> None:
        """``backend`` as given is used whatever it is (tests pass a file backend);
        by default, keyring's choice for this system, unless it is no real keyring,
        looked for on first use (a desktop may ask to unlock its keyring then)."""
        self._resolved = backend is not None
        self._backend_found: KeyringBackend | None = backend
        #: What this run knows: every secret read or set (the keyring is asked once),
        #: and the only copy when there is no keyring.
        self._known: dict[str, str] = {}

    @property
    def _backend(self) -> KeyringBackend | None:
        if not self._resolved:
            found = keyring.get_keyring()
            self._backend_found = None if _backend_name(found) in _NOT_SECRET else found
            self._resolved = True
        return self._backend_found

    @property
    def note(self) -> str | None:
        """Why secrets will not outlive this run, when they won't."""
        return NO_KEYRING_NOTE if self._backend is None else None

    def get(self, name: str) -> str:
        """The secret called ``name``, or ``""``."""
        if name in self._known:
            return self._known[name]
        backend = self._backend
        if backend is None:
            return ""
        try:
            value = backend.get_password(SERVICE, name) or ""
        except keyring.errors.KeyringError as exc:
            self._give_up(exc)
            value = ""
        self._known[name] = value
        return value

    def set(self, name: str, value: str) -> None:
        """Keep ``value`` as ``name``; an empty value forgets it."""
        backend = self._backend
        if backend is not None:
            try:
                if value:
                    backend.set_password(SERVICE, name, value)
                else:
                    self._forget(name)
            except keyring.errors.KeyringError as exc:
                self._give_up(exc)
        self._known[name] = value

    def _forget(self, name: str) -> None:
        backend = self._backend
        assert backend is not None
        with contextlib.suppress(keyring.errors.PasswordDeleteError):  # nothing was stored
            backend.delete_password(SERVICE, name)

    def _give_up(self, exc: keyring.errors.KeyringError) -> None:
        """A keyring that fails (locked, gone): keep secrets in memory from now on, and say so."""
        logger.warning("the keyring failed (%s): secrets kept in memory only", type(exc).__name__)
        self._backend_found, self._resolved = None, True
