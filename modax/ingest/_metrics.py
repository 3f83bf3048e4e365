"""Prometheus metrics of one ingester (its own registry, so several can live in one process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["IngestMetrics"]

_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_SIZES = (1, 10, 100, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000)


class IngestMetrics:
    """The ingester's counters, gauges and histograms.

    Attributes
    ----------
    registry : prometheus_client.CollectorRegistry
        Everything below, for ``/metrics``.

    Examples
    --------
    >>> m = IngestMetrics()
    >>> m.received.labels(kind="telemetry").inc(3)
    >>> m.registry.get_sample_value("modax_ingest_received_total", {"kind": "telemetry"})
    3.0
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.received = Counter(
            "modax_ingest_received", "Messages received, by topic kind.", ["kind"], registry=r
        )
        self.accepted = Counter(
            "modax_ingest_accepted",
            "Valid messages newly stored, by topic kind.",
            ["kind"],
            registry=r,
        )
        self.duplicates = Counter(
            "modax_ingest_duplicates", "Valid messages already stored (redelivery).", registry=r
        )
        self.quarantined = Counter(
            "modax_ingest_quarantined",
            "Rejected messages stored in quarantine, by reason.",
            ["reason"],
            registry=r,
        )
        self.events_published = Counter(
            "modax_ingest_events_published", "Derived safety events published.", registry=r
        )
        self.batch_size = Histogram(
            "modax_ingest_batch_size", "Messages per lake commit.", buckets=_SIZES, registry=r
        )
        self.commit_seconds = Histogram(
            "modax_ingest_commit_seconds",
            "Time to process and commit one batch, in s.",
            buckets=_SECONDS,
            registry=r,
        )
        self.lag_seconds = Histogram(
            "modax_ingest_lag_seconds",
            "From receipt of a batch's oldest message to its lake commit, in s.",
            buckets=_SECONDS,
            registry=r,
        )
        self.queue_depth = Gauge(
            "modax_ingest_queue_depth", "Messages waiting for the next batch.", registry=r
        )
        self.reconnects = Counter(
            "modax_ingest_reconnects", "Connections to the broker after the first.", registry=r
        )
        self.connected = Gauge(
            "modax_ingest_connected", "1 while connected to the broker.", registry=r
        )
        self.commit_failures = Counter(
            "modax_ingest_commit_failures",
            "Batches whose lake commit failed (retried).",
            registry=r,
        )
