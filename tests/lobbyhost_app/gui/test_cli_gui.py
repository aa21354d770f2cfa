"""``lobbyhost`` without ``--headless`` starts the desktop app."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

import lobbyhost_app.app
from lobbyhost_app.cli import main


def test_lobbyhost_without_headless_runs_the_gui(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI hands over to app.run_gui and returns its exit code."""
    calls: list[Sequence[str] | None] = []

    def fake_run_gui(argv: Sequence[str] | None = None) -> int:
        calls.append(argv)
        return 7

    monkeypatch.setattr(lobbyhost_app.app, "run_gui", fake_run_gui)
    assert main([]) == 7
    assert calls == [["lobbyhost"]]
