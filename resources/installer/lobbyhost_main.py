"""The bundle's entry point: the same ``main`` as the ``lobbyhost`` command."""

import sys

from lobbyhost_app.cli import main

if __name__ == "__main__":
    sys.exit(main())
