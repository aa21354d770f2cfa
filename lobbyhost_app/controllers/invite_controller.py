"""The invite link's address: the choices, the one in use, and the public one found by STUN.

:class:`InviteController` is owned by the host controller and shown by the
host view's address chooser. Choices come from this computer's interfaces,
from a STUN server (the public address it sees) and, through :meth:`add`, from
whoever learns another one: port mapping adds the router's external address
with ``AddressSource.ROUTER`` (``add(address, choose=True)`` once the port is
mapped). A link through a remote signalling server is fixed: nothing to choose.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

from PySide6.QtCore import QObject, Signal

from ..errors import LobbyHostError
from ..invite_address import (
    InviteAddress,
    discover_stun_address,
    interface_addresses,
    invite_choices,
    preferred_invite_address,
    reach_note,
    reach_of,
    typed_invite_address,
)
from .base import ControllerBase


class InviteController(ControllerBase):
    """Which address the invite link uses, for one open lobby at a time.

    Signals:
        choices_changed(list[InviteAddress]): the addresses to choose from
        link_changed(str link, str note): the link in use and who it reaches
            ("only on your network" ...); an empty link when no lobby is open
        discovery_failed(str): the STUN server did not tell the public address
    """

    choices_changed = Signal(list)
    link_changed = Signal(str, str)
    discovery_failed = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.choices: list[InviteAddress] = []
        self.chosen: InviteAddress | None = None
        self.link: str | None = None
        #: A remote server's link: fixed, nothing to choose.
        self.fixed = False
        self._port = 0
        self._code = ""

    def start(
        self,
        listen_host: str,
        port: int,
        code: str,
        interfaces: Sequence[InviteAddress] | None = None,
    ) -> None:
        """A lobby on the embedded server at ``port``: offer its addresses, pick one."""
        self._port, self._code, self.fixed = port, code, False
        found = interface_addresses() if interfaces is None else interfaces
        self.choices = invite_choices(listen_host, found)
        self.choices_changed.emit(list(self.choices))
        self.choose(preferred_invite_address(self.choices))

    def start_fixed(self, link: str) -> None:
        """A lobby on a remote server: its link, with nothing to choose."""
        self.fixed, self.choices, self.chosen, self.link = True, [], None, link
        self.choices_changed.emit([])
        self.link_changed.emit(link, reach_note(reach_of(urlsplit(link).hostname or "")))

    def clear(self) -> None:
        """The lobby closed: no link, no choices."""
        self.choices, self.chosen, self.link, self.fixed = [], None, None, False
        self.choices_changed.emit([])
        self.link_changed.emit("", "")

    def choose(self, address: InviteAddress) -> None:
        """Use ``address`` in the link from now on."""
        if self.fixed or not self._code:
            return
        if address not in self.choices:
            self.choices.append(address)
            self.choices_changed.emit(list(self.choices))
        self.chosen = address
        self.link = address.link(self._port, self._code)
        self.link_changed.emit(self.link, reach_note(address.reach))

    def choose_typed(self, text: str) -> None:
        """Use an address the host typed (an IP address or a name); else ``AddressError``."""
        self.choose(typed_invite_address(text))

    def add(self, address: InviteAddress, *, choose: bool = False) -> None:
        """Offer another address (the router's, say); ``choose`` to use it at once."""
        if self.fixed or not self._code:
            return
        if address not in self.choices:
            self.choices.append(address)
            self.choices_changed.emit(list(self.choices))
        if choose:
            self.choose(address)

    def discover_public_address(self, stun_url: str) -> None:
        """Ask the STUN server for this computer's public address and offer it."""
        self._spawn(self._discover(stun_url))

    async def _discover(self, stun_url: str) -> None:
        try:
            address = await discover_stun_address(stun_url)
        except LobbyHostError as exc:
            self.discovery_failed.emit(str(exc))
            return
        self.add(address)
