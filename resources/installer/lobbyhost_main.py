"""The bundle's entry point: one executable, three commands, chosen by the name it runs under.

The .deb links ``/usr/bin/lobbyhost``, ``/usr/bin/lobbyhost-guest`` and
``/usr/bin/lobbyhost-server`` to this one executable (busybox style), so the
commands are those of a ``pip install``: any other name is ``lobbyhost``.
"""

from __future__ import annotations

import sys
from pathlib import Path


def main() -> int:
    """Run the command this process was started as (``argv[0]``; ``.exe`` ignored)."""
    command = Path(sys.argv[0]).stem
    if command == "lobbyhost-server":
        from signalling_server.cli import main as server_main

        return server_main()
    if command == "lobbyhost-guest":
        from lobbyhost_app.guest_cli import main as guest_main

        return guest_main()
    from lobbyhost_app.cli import main as host_main

    return host_main()


if __name__ == "__main__":
    sys.exit(main())
