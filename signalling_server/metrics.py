"""Prometheus metrics of one server instance, read from the core's live counters.

Hot-path counters (relayed messages, errors) are plain integers in the core;
they are turned into Prometheus families only when /metrics is scraped, so
relaying costs no metrics-library call.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from .registry import RegistryStats

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_JOIN_BUCKETS = (0.5, 1, 2, 5, 10, 20, 30, 60, 120, float("inf"))


class _LiveCollector(Collector):
    def __init__(
        self, stats: RegistryStats, connections: Callable[[], int], lobbies: Callable[[], int]
    ) -> None:
        self._stats = stats
        self._connections = connections
        self._lobbies = lobbies

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(
            "lobbyhost_connections", "Open websocket connections.", value=self._connections()
        )
        yield GaugeMetricFamily("lobbyhost_lobbies", "Open lobbies.", value=self._lobbies())
        yield CounterMetricFamily(
            "lobbyhost_relayed_messages",
            "Session descriptions, ICE candidates and messages relayed.",
            value=self._stats.relayed,
        )
        yield CounterMetricFamily(
            "lobbyhost_lobbies_started", "Lobbies started.", value=self._stats.lobbies_started
        )
        errors = CounterMetricFamily(
            "lobbyhost_errors", "Error events sent, by code.", labels=["code"]
        )
        for code, count in sorted(self._stats.errors.items()):
            errors.add_metric([code], count)
        yield errors


class RefusalCollector(Collector):
    """Connections turned away (by reason) and closed for flooding."""

    def __init__(self, refused: Counter[str], stats: RegistryStats) -> None:
        self._refused = refused
        self._stats = stats

    def collect(self) -> Iterator[Metric]:
        refused = CounterMetricFamily(
            "lobbyhost_connections_refused",
            "Connections refused: per_address (429), server_full (503), origin (403).",
            labels=["reason"],
        )
        for reason, count in sorted(self._refused.items()):
            refused.add_metric([reason], count)
        yield refused
        yield CounterMetricFamily(
            "lobbyhost_flood_closes",
            "Connections closed (1008) for sending far past their action rate limit.",
            value=self._stats.flood_closes,
        )


class ServerMetrics:
    """The metrics registry of one server; :meth:`render` answers /metrics."""

    def __init__(
        self, stats: RegistryStats, connections: Callable[[], int], lobbies: Callable[[], int]
    ) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(_LiveCollector(stats, connections, lobbies))
        self.join_latency = Histogram(
            "lobbyhost_join_to_accept_seconds",
            "Time from a join request to the host's accept.",
            buckets=_JOIN_BUCKETS,
            registry=self.registry,
        )

    def observe_join(self, seconds: float) -> None:
        self.join_latency.observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
