"""The browser guest page's files, read once at start-up and served from memory.

Only regular files directly in the web root, with a plain lower-case name and
a known type, are taken: that set is the allow-list, so a request path is a
dictionary lookup and can never walk out of the folder.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

INDEX = "index.html"
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}
_SAFE_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*(\.[a-z0-9]+)+\Z")


@dataclass(frozen=True, slots=True)
class WebAsset:
    """One file of the page: its content type and bytes."""

    content_type: str
    body: bytes


@dataclass(frozen=True, slots=True)
class WebAssets:
    """The page's files by name; always holds ``index.html``."""

    files: Mapping[str, WebAsset]

    @property
    def index(self) -> WebAsset:
        return self.files[INDEX]


def load_web_assets(root: Path | None) -> WebAssets | None:
    """Read the page's files from ``root``; ``None`` when there is no page to serve."""
    if root is None:
        return None
    if not (root / INDEX).is_file():
        logger.warning("no browser guest page: %s has no %s", root, INDEX)
        return None
    files: dict[str, WebAsset] = {}
    for path in sorted(root.iterdir()):
        content_type = CONTENT_TYPES.get(path.suffix)
        if (
            content_type is not None
            and _SAFE_NAME.match(path.name)
            and path.is_file()
            and not path.is_symlink()
        ):
            files[path.name] = WebAsset(content_type, path.read_bytes())
    return WebAssets(files)
