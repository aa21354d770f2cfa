"""``python -m tests.benchmarks.relay.backlog N ARGS``: our server with a listen backlog of N.

Only for the reconnect storm, which compares our backlog (1024) with
asyncio's default (100) in the same run; the server itself has no such option.
"""

from __future__ import annotations

import sys

from signalling_server.cli import main
from signalling_server.transport import listener

if __name__ == "__main__":
    # Read by the listener when it opens its socket.
    listener.BACKLOG = int(sys.argv[1])
    raise SystemExit(main(sys.argv[2:]))
