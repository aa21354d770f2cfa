"""The settings dialog: name, where the server listens (or which remote one), ICE.

Open it with ``open()`` (never ``exec()``: a nested event loop would stall the
asyncio tasks sharing Qt's loop). It saves through :class:`Settings` on OK.
"""

from __future__ import annotations

import dataclasses

from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ..controllers.settings import AppSettings, Settings
from ..errors import LobbyHostError
from ..invite import check_listen_host, normalize_server_url
from ..net.ice import local_addresses


def _split(text: str) -> tuple[str, ...]:
    return tuple(part for part in text.replace(",", " ").split() if part)


class SettingsDialog(QDialog):
    """Edits :class:`AppSettings`; invalid input is explained and keeps the dialog open."""

    def __init__(self, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("LobbyHost settings")
        self.settings = settings
        current = settings.load()

        self.name_edit = QLineEdit(current.display_name, self)
        self.name_edit.setMaxLength(32)
        self.listen_host_edit = QLineEdit(current.listen_host, self)
        self.listen_host_edit.setPlaceholderText("0.0.0.0 (every interface)")
        self.listen_port_spin = QSpinBox(self)
        self.listen_port_spin.setRange(0, 65535)
        self.listen_port_spin.setSpecialValueText("any free port")
        self.listen_port_spin.setValue(current.listen_port)
        self.remote_check = QCheckBox("Use a remote lobbyhost-server instead", self)
        self.remote_check.setChecked(current.use_remote_server)
        self.remote_url_edit = QLineEdit(current.remote_server_url, self)
        self.remote_url_edit.setPlaceholderText("wss://lobby.example.org/")
        self.auto_accept_check = QCheckBox("Accept every join request", self)
        self.auto_accept_check.setChecked(current.auto_accept)
        self.auto_accept_pin_check = QCheckBox(
            "Keep auto-accept on for every new lobby (otherwise each lobby starts with it off)",
            self,
        )
        self.auto_accept_pin_check.setChecked(current.auto_accept_pinned)
        self.stun_edit = QPlainTextEdit("\n".join(current.stun_urls), self)
        self.stun_edit.setPlaceholderText("stun:stun.example.org:3478 (one per line)")
        self.stun_edit.setFixedHeight(60)
        self.turn_url_edit = QLineEdit(current.turn_url, self)
        self.turn_url_edit.setPlaceholderText("turn:turn.example.org:3478")
        self.turn_user_edit = QLineEdit(current.turn_username, self)
        self.turn_credential_edit = QLineEdit(current.turn_credential, self)
        self.turn_credential_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.turn_secret_edit = QLineEdit(current.turn_secret, self)
        self.turn_secret_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.turn_secret_edit.setPlaceholderText(
            "instead of a username: coturn's static-auth-secret"
        )
        self.turn_secret_edit.setToolTip(
            "The secret your TURN server shares with you (coturn use-auth-secret): your "
            "server gives you and every guest short-lived credentials made from it. Kept "
            "in the system keyring, not in the settings file."
        )
        self.turn_secret_note = QLabel(settings.secrets.note or "", self)
        self.turn_secret_note.setWordWrap(True)
        self.turn_secret_note.setVisible(settings.secrets.note is not None)
        self.allowed_edit = QLineEdit(" ".join(current.ice_allowed_addresses), self)
        self.allowed_edit.setPlaceholderText("every address (leave empty)")
        here = ", ".join(address for address in local_addresses() if ":" not in address)
        self.allowed_hint = QLabel(f"This computer: {here}", self)
        self.allowed_hint.setWordWrap(True)
        self.error_label = QLabel(self)
        self.error_label.setStyleSheet("color: #a11;")
        self.error_label.setWordWrap(True)
        self.error_label.hide()
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )

        you = QGroupBox("You", self)
        QFormLayout(you).addRow("Display name", self.name_edit)
        hosting = QGroupBox("Hosting", self)
        hosting_form = QFormLayout(hosting)
        hosting_form.addRow("Listen address", self.listen_host_edit)
        hosting_form.addRow("Port", self.listen_port_spin)
        hosting_form.addRow(self.remote_check)
        hosting_form.addRow("Server URL", self.remote_url_edit)
        hosting_form.addRow(self.auto_accept_check)
        hosting_form.addRow(self.auto_accept_pin_check)
        network = QGroupBox("Connections (ICE)", self)
        network_form = QFormLayout(network)
        network_form.addRow("STUN servers", self.stun_edit)
        network_form.addRow("TURN server", self.turn_url_edit)
        network_form.addRow("TURN username", self.turn_user_edit)
        network_form.addRow("TURN credential", self.turn_credential_edit)
        network_form.addRow("TURN shared secret", self.turn_secret_edit)
        network_form.addRow("", self.turn_secret_note)
        network_form.addRow("Use only addresses", self.allowed_edit)
        network_form.addRow("", self.allowed_hint)
        layout = QVBoxLayout(self)
        layout.addWidget(you)
        layout.addWidget(hosting)
        layout.addWidget(network)
        layout.addWidget(self.error_label)
        layout.addWidget(self.buttons)
        self._connect_signals()
        self._on_remote_check_toggled(self.remote_check.isChecked())

    def _connect_signals(self) -> None:
        self.buttons.accepted.connect(self._on_buttons_accepted)
        self.buttons.rejected.connect(self.reject)
        self.remote_check.toggled.connect(self._on_remote_check_toggled)

    def values(self) -> AppSettings:
        """What the dialog holds, validated; raises :class:`LobbyHostError` with the problem."""
        stun = _split(self.stun_edit.toPlainText())
        for url in stun:
            if not url.startswith(("stun:", "stuns:")):
                raise LobbyHostError(f"{url!r} is not a STUN URL (stun:host:port).")
        turn = self.turn_url_edit.text().strip()
        if turn and not turn.startswith(("turn:", "turns:")):
            raise LobbyHostError(f"{turn!r} is not a TURN URL (turn:host:port).")
        remote = self.remote_url_edit.text().strip()
        stored = self.settings.load()
        listen_host = self.listen_host_edit.text().strip() or "0.0.0.0"
        if self.remote_check.isChecked():
            remote = normalize_server_url(remote)
        elif listen_host != stored.listen_host:
            # Only what was typed is looked up: a saved name is not resolved on every OK.
            listen_host = check_listen_host(listen_host)
        values = dataclasses.replace(
            stored,
            display_name=self.name_edit.text().strip() or "Player",
            listen_host=listen_host,
            listen_port=self.listen_port_spin.value(),
            use_remote_server=self.remote_check.isChecked(),
            remote_server_url=remote,
            auto_accept=self.auto_accept_check.isChecked(),
            auto_accept_pinned=self.auto_accept_pin_check.isChecked(),
            stun_urls=stun,
            turn_url=turn,
            turn_username=self.turn_user_edit.text().strip(),
            turn_credential=self.turn_credential_edit.text(),
            turn_secret=self.turn_secret_edit.text().strip(),
            ice_allowed_addresses=_split(self.allowed_edit.text()),
        )
        values.ice_settings()  # checks the allow-list holds IP addresses
        if values.turn_secret and not values.turn_url:
            raise LobbyHostError("A TURN shared secret needs the TURN server it is for.")
        return values

    def _on_buttons_accepted(self) -> None:
        try:
            values = self.values()
        except LobbyHostError as exc:
            self.error_label.setText(str(exc))
            self.error_label.show()
            return
        self.settings.save(values)
        self.accept()

    def _on_remote_check_toggled(self, checked: bool) -> None:
        self.remote_url_edit.setEnabled(checked)
        self.listen_host_edit.setEnabled(not checked)
        self.listen_port_spin.setEnabled(not checked)
