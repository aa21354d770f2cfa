"""The cluster link's counters as Prometheus families (added to /metrics on cluster nodes)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from .link import ClusterLink


class ClusterCollector(Collector):
    """``lobbyhost_redis_up``, reconnects, errors, forwarded events, hops and reaped nodes."""

    def __init__(self, link: ClusterLink) -> None:
        self._link = link

    def collect(self) -> Iterator[Metric]:
        stats = self._link.stats
        yield GaugeMetricFamily(
            "lobbyhost_redis_up",
            "1 while this node is subscribed and heartbeating on Redis, else 0.",
            value=1 if self._link.healthy else 0,
        )
        for name, help_text, value in (
            ("redis_errors", "Times this node lost Redis.", stats.redis_errors),
            ("redis_reconnects", "Times this node subscribed again.", stats.reconnects),
            ("cluster_forwarded", "Events and closes sent to other nodes.", stats.forwarded),
            ("cluster_received", "Events and closes received from other nodes.", stats.received),
            (
                "cluster_undeliverable",
                "Forwarded events whose node was not listening.",
                stats.undeliverable,
            ),
            (
                "cluster_nodes_reaped",
                "Dead nodes whose members this node dropped.",
                stats.nodes_reaped,
            ),
        ):
            yield CounterMetricFamily(f"lobbyhost_{name}", help_text, value=value)
        hops = self._link.hops
        yield HistogramMetricFamily(
            "lobbyhost_cluster_hop_seconds",
            "Seconds from publishing on another node to writing here, per forwarded event.",
            buckets=hops.cumulative(),
            sum_value=hops.sum,
        )
