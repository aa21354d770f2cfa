"""The relay benchmark's one exception."""

from __future__ import annotations


class BenchmarkError(Exception):
    """The benchmark could not run to its end."""
