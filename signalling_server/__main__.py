"""``python -m signalling_server``: the same as ``lobbyhost-server``."""

from .cli import main

raise SystemExit(main())
