"""Lazy package exports: a name is imported from its module the first time it is looked up.

Both ``signalling_server`` and ``signalling_server.protocol`` export this way,
so importing the protocol never loads the server (websockets, prometheus).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any


def lazy_exports(
    package: str, exports: Mapping[str, str], namespace: MutableMapping[str, Any]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package`` for ``{name: module}`` exports.

    A name found is kept in ``namespace`` (the package's globals), so it is
    looked up once.
    """

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f".{module}", package), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return list(namespace.get("__all__", exports))

    return __getattr__, __dir__
