"""Several server processes and machines sharing lobbies through Redis.

:class:`ClusterLink` joins a node to the others: delivery to the node that
holds a socket, shared timers, heartbeats and taking over a dead node's
departures. The state itself lives in :class:`~signalling_server.backend.redis.RedisBackend`.
"""

from .link import CLOSE_SERVICE_RESTART, ClusterLink, ClusterStats

__all__ = ["CLOSE_SERVICE_RESTART", "ClusterLink", "ClusterStats"]
