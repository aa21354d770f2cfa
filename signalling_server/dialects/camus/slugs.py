"""Room slugs as the Camus server made them: python-slugify, at most 64 characters."""

from __future__ import annotations

import re
from typing import Final

from slugify import slugify

MAX_SLUG_LENGTH: Final = 64
_SLUG: Final = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*\Z")


def slug_for(name: str) -> str:
    """``name`` as lower-case ASCII words joined by ``-`` (``""`` when nothing is left)."""
    return slugify(name, max_length=MAX_SLUG_LENGTH)


def is_slug(text: str) -> bool:
    """Whether ``text`` could be a slug (so a path segment is worth looking up)."""
    return len(text) <= MAX_SLUG_LENGTH and _SLUG.match(text) is not None
