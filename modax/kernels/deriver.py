"""The kernels as the pipeline's derive step: ``safety_events`` and ``aggregates_*`` per batch."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import pyarrow as pa

from modax.kernels.aggregate import WindowAggregator
from modax.kernels.safety import SafetyChecker, SafetyConfig

__all__ = ["KernelDeriver"]

log = logging.getLogger(__name__)


class KernelDeriver:
    """Runs the safety rules and the window aggregation on every batch of new readings.

    Implements :class:`modax.pipeline.Deriver`. ``stale`` is judged against the event-time
    watermark (the latest reading of any device), so a replayed file is judged as it was live
    rather than every device being stale against the wall clock.

    Parameters
    ----------
    safety : SafetyConfig, optional
        Thresholds of the safety rules.
    widths_ms : sequence of int
        Window widths, one ``aggregates_<width>`` table each (default 1 s: ``aggregates_1s``).
    allowed_lateness_ms : int
        How long windows stay open for out-of-order readings, in ms of event time.

    Examples
    --------
    >>> import pyarrow as pa
    >>> deriver = KernelDeriver()
    >>> ts = pa.array([0, 100, 1500], pa.timestamp("ms", tz="UTC"))
    >>> batch = pa.table({"device_id": ["m1"] * 3, "ts": ts, "current_1": [12.0, 3.0, 3.0]})
    >>> out = deriver.process(batch, pa.table({}), 0)
    >>> out["safety_events"]["kind"].to_pylist()
    ['overload', 'overload']
    >>> deriver.flush()["aggregates_1s"]["count"].to_pylist()
    [2, 1]
    """

    def __init__(
        self,
        safety: SafetyConfig | None = None,
        widths_ms: Sequence[int] = (1000,),
        allowed_lateness_ms: int = 2000,
    ) -> None:
        self.safety = SafetyChecker(safety)
        self.aggregators = [
            WindowAggregator(width_ms=w, allowed_lateness_ms=allowed_lateness_ms) for w in widths_ms
        ]

    def process(
        self, telemetry: pa.Table, device_safety: pa.Table, now_ms: int
    ) -> dict[str, pa.Table]:
        """Safety events and closed windows of one batch, by lake table name."""
        has_flags = device_safety.num_rows > 0
        out = {
            "safety_events": self.safety.process(telemetry, device_safety if has_flags else None)
        }
        if telemetry.num_rows == 0:
            return out
        for agg in self.aggregators:
            for channel in agg.channels:  # a channel absent from the batch: no readings
                if channel not in telemetry.column_names:
                    nulls = pa.nulls(telemetry.num_rows, pa.float64())
                    telemetry = telemetry.append_column(channel, nulls)
            out[agg.table] = agg.process(telemetry)
            late = agg.late_rows()
            if late is not None:
                log.warning(
                    "%d late reading(s) for %s: their windows had closed (not merged; they are "
                    "in telemetry)",
                    late.num_rows,
                    agg.table,
                )
        return out

    def outputs(self) -> dict[str, str]:
        """Its lake tables and their event-time columns: the pipeline resumes it after a restart."""
        return {"safety_events": "ts", **{agg.table: "window_start" for agg in self.aggregators}}

    def flush(self) -> dict[str, pa.Table]:
        """The windows still open."""
        return {agg.table: agg.flush() for agg in self.aggregators}
