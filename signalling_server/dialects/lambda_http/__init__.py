"""The lambda_http dialect (not served yet)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ...server import SignallingServer


def install(server: SignallingServer) -> None:
    """Add the lambda_http dialect's routes and rules to ``server``."""
