"""Which asyncio event loop the standalone server runs on: uvloop when installed.

uvloop (the ``uvloop`` extra) is a drop-in event loop on libuv that makes the
server's socket reads and writes cheaper; it exists for Linux and macOS only.
Without it the server runs on asyncio's own loop, unchanged. Embedding apps
keep their own loop (the desktop app runs on qasync's): only the standalone
entry points choose one.
"""

from __future__ import annotations

import asyncio
import enum
import importlib
from collections.abc import Callable

from .errors import ConfigError

LoopFactory = Callable[[], asyncio.AbstractEventLoop]


class LoopChoice(enum.StrEnum):
    """What the command line asked for."""

    AUTO = "auto"  # uvloop when it can be imported, else asyncio's
    UVLOOP = "uvloop"  # uvloop or an error
    ASYNCIO = "asyncio"  # asyncio's own loop even when uvloop is installed


def _uvloop_factory() -> LoopFactory | None:
    try:
        uvloop = importlib.import_module("uvloop")
    except ImportError:
        return None
    factory: LoopFactory = uvloop.new_event_loop
    return factory


def loop_factory(choice: LoopChoice = LoopChoice.AUTO) -> tuple[str, LoopFactory]:
    """The name and factory of the event loop ``choice`` stands for."""
    if choice is not LoopChoice.ASYNCIO:
        factory = _uvloop_factory()
        if factory is not None:
            return "uvloop", factory
        if choice is LoopChoice.UVLOOP:
            raise ConfigError(
                "--loop uvloop: uvloop is not installed (pip install 'lobbyhost[uvloop]')"
            )
    return "asyncio", asyncio.new_event_loop


def running_loop_name() -> str:
    """``uvloop`` or ``asyncio``: the kind of loop running now."""
    module = type(asyncio.get_running_loop()).__module__
    return "uvloop" if module.startswith("uvloop") else "asyncio"


__all__ = ["LoopChoice", "LoopFactory", "loop_factory", "running_loop_name"]
