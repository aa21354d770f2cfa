"""A test that cannot run here skips; under CI (``CI`` set to true) it fails instead.

CI services set ``CI=true``. A skip there would let a green run hide a test
that never ran, so there the same reason fails the test.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def under_ci() -> bool:
    """Whether this run is CI's (``CI`` is ``true``, ``1`` or ``yes``)."""
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def cannot_run(reason: str) -> NoReturn:
    """Skip the running test with ``reason``; under CI, fail it with the same reason."""
    if under_ci():
        pytest.fail(f"{reason}. CI is set, so a test that cannot run fails instead of skipping.")
    pytest.skip(reason)
