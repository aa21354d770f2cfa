"""The Camus web client's files, from a folder the operator provides (``camus_web_root``).

The client is AGPL-3.0 and never ships with LobbyHost: an operator who wants
it copies its ``static`` folder (``dist/index.js``, ``css/``, ``fonts/``) and
points ``camus_web_root`` at it. Only plain names of known types are served,
and a path can never leave the folder.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final

logger = logging.getLogger(__name__)

CONTENT_TYPES: Final = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".map": "application/json",
    ".woff2": "font/woff2",
    ".woff": "font/woff",
    ".ttf": "font/ttf",
    ".ico": "image/x-icon",
    ".png": "image/png",
    ".svg": "image/svg+xml",
}
_SEGMENT: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}\Z")
_MAX_DEPTH: Final = 4


@dataclass(frozen=True, slots=True)
class StaticFile:
    content_type: str
    body: bytes


class StaticFiles:
    """Files under ``root``, read on first request and kept."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self._cache: dict[str, StaticFile | None] = {}

    @property
    def has_client(self) -> bool:
        """Whether the folder holds the client's script (else the room page says so)."""
        return self.get("dist/index.js") is not None

    def get(self, relative: str) -> StaticFile | None:
        """The file at ``relative`` (``css/app.css``), or ``None``."""
        if relative in self._cache:
            return self._cache[relative]
        found = self._read(relative)
        if len(self._cache) < 256:  # the client has a dozen files; junk paths are not kept
            self._cache[relative] = found
        return found

    def _read(self, relative: str) -> StaticFile | None:
        segments = relative.split("/")
        if len(segments) > _MAX_DEPTH or not all(_SEGMENT.match(part) for part in segments):
            return None
        content_type = CONTENT_TYPES.get(Path(segments[-1]).suffix.lower())
        if content_type is None:
            return None
        path = self.root.joinpath(*segments)
        try:
            if not path.resolve().is_relative_to(self.root) or not path.is_file():
                return None
            return StaticFile(content_type, path.read_bytes())
        except OSError as exc:
            logger.warning("cannot read %s: %s", path, exc.strerror)
            return None
