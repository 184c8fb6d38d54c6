"""Prometheus metrics of `microseg monitor` (prometheus-client), in a registry of its own
so that several monitors (tests) never share counters; served on `--metrics-port`."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["Metrics"]

# Re-verification latency buckets, seconds: the target is 0.1 s median, 0.3 s p99.
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.events = Counter(
            "microseg_monitor_events",
            "Watch events received, by kind and event type.",
            ["kind", "type"],
            registry=r,
        )
        self.changes = Counter(
            "microseg_monitor_changes",
            "Model changes applied: incremental (Connectivity.apply), rebuild, or none "
            "(the event changed nothing the analysis reads).",
            ["how"],
            registry=r,
        )
        self.rebuilds = Counter(
            "microseg_monitor_rebuilds",
            "Index rebuilds, by the kind whose change has no incremental form.",
            ["reason"],
            registry=r,
        )
        self.relists = Counter(
            "microseg_monitor_relists",
            "Lists made again (410 Gone, a malformed event, a forbidden kind retried).",
            ["kind"],
            registry=r,
        )
        self.watch_errors = Counter(
            "microseg_monitor_watch_errors",
            "Watch connections lost or refused, by kind and reason.",
            ["kind", "reason"],
            registry=r,
        )
        self.latency = Histogram(
            "microseg_monitor_reverify_seconds",
            "From a watch event's arrival to the re-verified verdict.",
            buckets=_BUCKETS,
            registry=r,
        )
        self.open_violations = Gauge(
            "microseg_monitor_open_violations", "Intents violated now.", registry=r
        )

    def serve(self, port: int, address: str) -> int:
        """Serve /metrics; returns the port (useful with 0: any free port)."""
        from prometheus_client import start_http_server

        server, _thread = start_http_server(port, addr=address, registry=self.registry)
        return int(server.server_address[1])
