"""What every controller shares: owned asyncio tasks and errors turned into messages.

A view calls a controller method (``accept``, ``join`` ...) from a Qt slot; the
controller runs the network work as a task on the qasync loop and reports a
failure through ``error_occurred`` with a sentence, never a traceback.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
from collections.abc import Coroutine
from typing import Any

from PySide6.QtCore import QObject, Signal

from ..errors import LobbyHostError
from ..net.errors import connect_problem, listen_problem

logger = logging.getLogger(__name__)


def sentence(text: str) -> str:
    """``text`` with a capital first letter and a full stop, as a message box line."""
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?" else f"{text}."


def listen_error_message(exc: OSError, host: str, port: int) -> str:
    """Why the embedded server could not listen, in words a host can act on."""
    where = f"{host}:{port}"
    if exc.errno == errno.EADDRINUSE:
        return (
            f"Port {port} is already in use on {host}: is another LobbyHost or server "
            "running? Choose another port in Settings."
        )
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"{host} is not an address of this computer; change the listen address in Settings."
    if exc.errno in (errno.EACCES, errno.EPERM):
        return f"Not allowed to listen on {where}; choose a port above 1024 in Settings."
    if isinstance(exc, socket.gaierror):
        return (
            f"The listen address {host!r} is not a name this computer can resolve; change "
            "it in Settings (0.0.0.0 listens on every interface)."
        )
    # Never the system's own text ("[Errno 97] ...") at the end: words, then what to do.
    logger.info("cannot listen on %s: %r", where, exc)
    return (
        f"Cannot listen on {where} ({listen_problem(exc)}); check the address and port in Settings."
    )


class ControllerBase(QObject):
    """A QObject that owns its asyncio tasks.

    Signals: ``error_occurred(str)`` with a user-readable sentence.
    """

    error_occurred = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._tasks: set[asyncio.Task[Any]] = set()

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run ``coro`` on the loop; a :class:`LobbyHostError` becomes ``error_occurred``."""
        task = asyncio.get_running_loop().create_task(self._reporting(coro))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        # A task cancelled before its first step never awaits ``coro``: close it quietly.
        task.add_done_callback(lambda _task: coro.close())
        return task

    async def _reporting(self, coro: Coroutine[Any, Any, None]) -> None:
        try:
            await coro
        except LobbyHostError as exc:
            self.error_occurred.emit(sentence(str(exc)))
        except Exception as exc:
            # Not swallowed: logged with its traceback, and the user hears of it.
            logger.exception("unexpected error in %s", type(self).__name__)
            detail = connect_problem(exc) if isinstance(exc, OSError) else str(exc)
            self.error_occurred.emit(sentence(f"Something went wrong: {detail}"))

    async def _cancel_tasks(self) -> None:
        """Cancel every task this controller started, except the caller's own."""
        current = asyncio.current_task()
        tasks = [task for task in self._tasks if task is not current]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
