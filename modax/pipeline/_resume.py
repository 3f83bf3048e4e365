"""Resume the derive step after a restart from what the lake holds (decision 0002).

A process that stops without flushing (a crash, or a commit that kept failing until it was
stopped) loses its derivers' state: the windows still open and the readings it committed but
could not derive. Before its first batch, a new pipeline feeds its resumable derivers the stored
readings from ``STATE_MS`` before each device's last derived row on, and appends only the derived
rows newer than that last row: the state is rebuilt, nothing derived twice.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Protocol, runtime_checkable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from modax.lake import Lake
from modax.schema import DEVICE_SAFETY_SCHEMA, TELEMETRY_SCHEMA, UTC_MS

__all__ = ["RESUME_SPAN_MS", "STATE_MS", "Resumable", "newer_rows", "stored_tail"]

#: How far before the first batch's readings derived rows are looked for, in ms of event time.
RESUME_SPAN_MS = 120_000
#: Readings fed before a device's last derived row, so that stateful rules (rise over 10 s,
#: 50 stuck samples) are where they were, in ms of event time.
STATE_MS = 60_000
#: Event time of stored readings read and fed at a time, in ms (bounds a restart's memory).
SLICE_MS = 15_000


@runtime_checkable
class Resumable(Protocol):
    """A deriver whose state the pipeline can rebuild from stored readings after a restart."""

    def outputs(self) -> dict[str, str]:
        """The lake tables it writes, each with its event-time column (e.g. ``window_start``)."""
        ...


def _ms(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    ms = pc.cast(pc.cast(column, UTC_MS), pa.int64())
    return np.asarray(ms.to_numpy(zero_copy_only=False), dtype=np.int64)


def _since(column: str, ms: int) -> ds.Expression:
    return ds.field(column) >= pa.scalar(ms, pa.int64()).cast(UTC_MS)


def _last_rows(lake: Lake, outputs: Mapping[str, str], lo: int) -> dict[str, dict[str, int]]:
    """Per derived table: each device's last event time from ``lo`` on (ms)."""
    lasts: dict[str, dict[str, int]] = {}
    for name, column in outputs.items():
        lasts[name] = {}
        if not lake.exists(name):
            continue
        rows = lake.read(name, columns=["device_id", column], filter=_since(column, lo))
        for dev, ms in zip(rows["device_id"].to_pylist(), _ms(rows[column]).tolist(), strict=True):
            lasts[name][dev] = max(ms, lasts[name].get(dev, ms))
    return lasts


def _tail(
    lake: Lake, name: str, schema: pa.Schema, start: Mapping[str, int], lo: int, hi: int
) -> pa.Table:
    """Stored rows of ``name`` from each device's ``start`` (or ``lo``) on, before ``hi``.

    In event-time order; ``lo`` and ``hi`` in ms.
    """
    if not lake.exists(name):
        return schema.empty_table()
    within = _since("ts", lo) & ~_since("ts", hi)
    rows = lake.read(name, filter=within)
    keep = _ms(rows["ts"]) >= np.array(
        [start.get(dev, lo) for dev in rows["device_id"].to_pylist()], np.int64
    )
    rows = rows.filter(pa.array(keep)).sort_by("ts")
    return rows.select(schema.names).cast(schema)


def _newest(lake: Lake, lo: int) -> int | None:
    """The newest stored reading's event time from ``lo`` on (ms), ``None`` when there is none."""
    ms = _ms(lake.read("telemetry", columns=["ts"], filter=_since("ts", lo))["ts"])
    return int(ms.max()) if len(ms) else None


def stored_tail(
    lake: Lake, outputs: Mapping[str, str], first_ts_ms: int
) -> tuple[Iterator[tuple[pa.Table, pa.Table]], dict[str, dict[str, int]]] | None:
    """What a resumable deriver is fed before a first batch whose readings start at ``first_ts_ms``.

    Returns
    -------
    tuple or None
        The ``telemetry`` and ``device_safety`` rows to feed, in event-time order as one pair
        per :data:`SLICE_MS` of event time (a restarted ingester at 1,000 devices × 10 Hz read
        its three-minute tail whole: 1.8 M rows, 1 GB at its peak), and, per derived table, each
        device's last derived event time (ms); ``None`` when there is nothing stored.
    """
    if not lake.exists("telemetry"):
        return None
    lo = first_ts_ms - RESUME_SPAN_MS
    lasts = _last_rows(lake, outputs, lo)
    devices = set().union(*(last.keys() for last in lasts.values()))
    start = {dev: min(last.get(dev, lo) for last in lasts.values()) - STATE_MS for dev in devices}
    begin = lo - STATE_MS
    end = _newest(lake, begin)
    if end is None:
        return None

    def slices() -> Iterator[tuple[pa.Table, pa.Table]]:
        for at in range(begin, end + 1, SLICE_MS):
            yield (
                _tail(lake, "telemetry", TELEMETRY_SCHEMA, start, at, at + SLICE_MS),
                _tail(lake, "device_safety", DEVICE_SAFETY_SCHEMA, start, at, at + SLICE_MS),
            )

    return slices(), lasts


def newer_rows(
    table: pa.Table, column: str, last: Mapping[str, int], lo: int | None = None
) -> pa.Table:
    """Rows of ``table`` after their device's ``last`` event time (ms).

    Devices without one keep every row, or only rows after ``lo`` when it is given.
    """
    if table.num_rows == 0:
        return table
    default = np.iinfo(np.int64).min if lo is None else lo
    bound = np.array([last.get(dev, default) for dev in table["device_id"].to_pylist()], np.int64)
    return table.filter(pa.array(_ms(table[column]) > bound))
