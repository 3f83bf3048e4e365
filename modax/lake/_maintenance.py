"""Lake maintenance that runs itself: compaction, vacuum and 1-minute rollups on a schedule.

:class:`Maintenance` is what ``modax maintain`` runs (and ``modax demo`` starts beside the
ingester). Each cycle, for every table: :meth:`Lake.compact` (closed days rewritten clustered by
device and time, small files of open days bin-packed, then vacuum of files replaced more than
``MODAX_VACUUM_RETENTION_H`` hours ago, so a reader's snapshot keeps working); then
``aggregates_1min`` is extended from ``aggregates_1s`` up to :data:`ROLLUP_LAG_MS` before now.
Progress goes to Prometheus metrics in its own registry.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
from prometheus_client import CollectorRegistry, Counter, Gauge

from modax.lake._connect import connect
from modax.lake._delta import Lake, LakeError

__all__ = ["ROLLUP_LAG_MS", "Maintenance", "MaintenanceMetrics", "rollup_sql"]

log = logging.getLogger("modax.lake.maintenance")

#: A minute is rolled up once it ended this long ago (late 1 s windows still arrive before).
ROLLUP_LAG_MS = 120_000
_STATS = ("mean", "std", "min", "max", "rms", "p2p")


def _channels(columns: list[str]) -> list[str]:
    return [c.removesuffix("_mean") for c in columns if c.endswith("_mean")]


def rollup_sql(columns: list[str], width_ms: int) -> str:
    """DuckDB SQL folding ``aggregates_1s`` rows (``columns``) into windows of ``width_ms``.

    Count-weighted: mean = Σ n·mean / Σ n, rms = √(Σ n·rms² / Σ n), std (sample, as the 1 s
    kernel's) from the pooled sums of squares, min/max of the parts, p2p = max − min.
    Parameters ``$lo``/``$hi`` (epoch ms) bound ``window_start``. The weights are the windows'
    reading counts (``aggregates_1s`` keeps no count per channel): exact when every reading has
    every channel, min and max always exact.
    """
    parts = []
    for c in _channels(columns):
        n = f"(case when {c}_mean is null then 0 else count end)"
        total = f"nullif(sum({n}), 0)"
        mean = f"sum({n} * {c}_mean) / {total}"
        spread = f"(case when isnan({c}_std) or {c}_std is null then 0 else {c}_std end)"
        squares = f"sum(({n} - 1) * {spread} * {spread} + {n} * {c}_mean * {c}_mean)"
        variance = f"({squares} - sum({n}) * ({mean}) * ({mean})) / nullif(sum({n}) - 1, 0)"
        parts += [
            f"{mean} as {c}_mean",
            f"sqrt(greatest({variance}, 0)) as {c}_std",
            f"min({c}_min) as {c}_min",
            f"max({c}_max) as {c}_max",
            f"sqrt(sum({n} * {c}_rms * {c}_rms) / {total}) as {c}_rms",
            f"max({c}_max) - min({c}_min) as {c}_p2p",
        ]
    window = f"make_timestamp_ms(epoch_ms(window_start) // {width_ms} * {width_ms})"
    return (
        f"select device_id, {window} as window_start, {width_ms}::integer as width_ms, "
        f"sum(count)::bigint as count, {', '.join(parts)} from aggregates_1s "
        "where window_start >= make_timestamp_ms($lo) and window_start < make_timestamp_ms($hi) "
        "group by all order by device_id, window_start"
    )


class MaintenanceMetrics:
    """Counters and gauges of the maintenance service (its own registry)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.cycles = Counter("modax_maintain_cycles", "Maintenance cycles run.", registry=r)
        self.failures = Counter(
            "modax_maintain_failures", "Table maintenance steps that failed.", ["table"], registry=r
        )
        self.files_rewritten = Counter(
            "modax_maintain_files_removed", "Files replaced by compaction.", ["table"], registry=r
        )
        self.files_written = Counter(
            "modax_maintain_files_added", "Files written by compaction.", ["table"], registry=r
        )
        self.partitions_clustered = Counter(
            "modax_maintain_partitions_clustered",
            "Closed date partitions rewritten sorted by device and time.",
            ["table"],
            registry=r,
        )
        self.files_deleted = Counter(
            "modax_maintain_files_deleted", "Files vacuumed from storage.", ["table"], registry=r
        )
        self.files = Gauge(
            "modax_maintain_table_files",
            "Data files of the table's snapshot.",
            ["table"],
            registry=r,
        )
        self.rollup_rows = Counter(
            "modax_maintain_rollup_rows", "Rows written to aggregates_1min.", registry=r
        )
        self.last_cycle = Gauge(
            "modax_maintain_last_cycle_seconds",
            "When the last cycle ended (Unix time, s).",
            registry=r,
        )
        self.cycle_seconds = Gauge(
            "modax_maintain_cycle_duration_seconds", "How long the last cycle took.", registry=r
        )


class Maintenance:
    """Compaction, vacuum and rollups of a lake, once (:meth:`run_once`) or on a schedule.

    Parameters
    ----------
    lake : Lake
        The lake; its ``vacuum_retention_hours`` protects readers' snapshots.
    interval_s : float
        Seconds between the starts of two cycles.
    metrics : MaintenanceMetrics, optional
        Where progress is counted.
    clock : callable, optional
        The current time (tz-aware), for tests.
    """

    def __init__(
        self,
        lake: Lake,
        interval_s: float = 600.0,
        metrics: MaintenanceMetrics | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        if interval_s <= 0:
            raise ValueError(f"interval_s={interval_s}: must be a positive number of seconds")
        self.lake = lake
        self.interval_s = interval_s
        self.metrics = metrics or MaintenanceMetrics()
        self._clock = clock or (lambda: datetime.now(UTC))
        #: Cycles run, and when the last one ended (Unix time, s; ``None`` before the first).
        self.cycles = 0
        self.last_cycle: float | None = None

    def rollup(self, now: datetime | None = None) -> int:
        """Extend ``aggregates_1min`` from ``aggregates_1s`` up to :data:`ROLLUP_LAG_MS` ago.

        Returns
        -------
        int
            Rows written.
        """
        if not self.lake.exists("aggregates_1s"):
            return 0
        width = 60_000
        end = int((now or self._clock()).timestamp() * 1000) - ROLLUP_LAG_MS
        hi = end // width * width
        con = connect(self.lake)
        try:
            lo = 0
            if "aggregates_1min" in con.tables:
                [(last,)] = con.sql(
                    "select epoch_ms(max(window_start)) from aggregates_1min"
                ).fetchall()
                lo = 0 if last is None else last + width
            if lo >= hi:
                return 0
            columns = con.sql("select * from aggregates_1s limit 0").columns
            rows: pa.Table = con.sql(
                rollup_sql(columns, width), params={"lo": lo, "hi": hi}
            ).to_arrow_table()
        finally:
            con.close()
        written = int(rows.num_rows)
        if written:
            self.lake.append("aggregates_1min", rows.cast(self._schema(rows)))
        self.metrics.rollup_rows.inc(written)
        return written

    @staticmethod
    def _schema(rows: pa.Table) -> pa.Schema:
        """Timestamps in ms UTC, as the pipeline writes them."""
        return pa.schema(
            pa.field(f.name, pa.timestamp("ms", tz="UTC")) if pa.types.is_timestamp(f.type) else f
            for f in rows.schema
        )

    def run_once(self) -> dict[str, Any]:
        """One cycle over every table; a table that fails is logged and left for the next one.

        Returns
        -------
        dict
            Per table, :meth:`Lake.compact`'s figures (or ``{"error": ...}``), and
            ``rollup_rows``.
        """
        began = time.monotonic()
        now = self._clock()
        m = self.metrics
        report: dict[str, Any] = {}
        try:
            report["rollup_rows"] = self.rollup(now)
        except (LakeError, OSError) as exc:
            log.warning("rollup to aggregates_1min failed: %s", exc)
            m.failures.labels(table="aggregates_1min").inc()
            report["rollup_rows"] = 0
        for name in self.lake.tables():
            try:
                figures = self.lake.compact(name, now=now)
            except (LakeError, OSError) as exc:
                log.warning("maintenance of %r failed: %s", name, exc)
                m.failures.labels(table=name).inc()
                report[name] = {"error": str(exc)}
                continue
            report[name] = figures
            m.files_rewritten.labels(table=name).inc(figures["files_removed"])
            m.files_written.labels(table=name).inc(figures["files_added"])
            m.partitions_clustered.labels(table=name).inc(figures["partitions_clustered"])
            m.files_deleted.labels(table=name).inc(figures["files_deleted"])
            m.files.labels(table=name).set(sum(p.files for p in self.lake.layout(name)))
        self.cycles += 1
        self.last_cycle = time.time()
        m.cycles.inc()
        m.cycle_seconds.set(time.monotonic() - began)
        m.last_cycle.set(self.last_cycle)
        log.info("maintenance cycle done in %.1f s: %s", time.monotonic() - began, report)
        return report

    def run(self, stop: threading.Event) -> None:
        """Run a cycle every :attr:`interval_s` seconds until ``stop`` is set."""
        while not stop.is_set():
            began = time.monotonic()
            self.run_once()
            stop.wait(max(0.0, self.interval_s - (time.monotonic() - began)))
