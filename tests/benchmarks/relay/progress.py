"""Progress lines of the orchestrator, on stderr (the table goes to stdout)."""

from __future__ import annotations

import sys


def log(message: str) -> None:
    """Print a progress line to stderr at once."""
    print(message, file=sys.stderr, flush=True)
