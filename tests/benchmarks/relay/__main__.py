"""Entry point of ``python -m tests.benchmarks.relay``."""

from __future__ import annotations

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
