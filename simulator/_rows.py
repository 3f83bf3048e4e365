"""Rows of a chunk as Arrow columns, copying as little as possible.

The kernel writes each telemetry channel as one contiguous ``(n_devices, n_readings)`` block,
device by device — already the row order of the tables — so every channel becomes an Arrow column
without a copy. The index columns that depend only on the chunk's shape (device index, reading
index, device id, the empty channels) are built once per shape (:class:`Grid`) and reused by
every chunk. Dropping rows (lost messages, corrupt readings) keeps zero-copy slices when the kept
rows form a few runs, as a sensor dropout does, and uses Arrow's filter otherwise.

Examples
--------
>>> grid = Grid.of(pa.array(["a", "b"]), n_readings=3)
>>> grid.device.tolist(), grid.reading.tolist(), grid.ids.to_pylist()
([0, 0, 0, 1, 1, 1], [0, 1, 2, 0, 1, 2], ['a', 'a', 'a', 'b', 'b', 'b'])
>>> t = pa.table({"x": pa.array(range(6))})
>>> keep(t, np.array([True, True, False, True, True, True]))["x"].to_pylist()
[0, 1, 3, 4, 5]
>>> dates(np.array([0, 86_400_000])).to_pylist()
[datetime.date(1970, 1, 1), datetime.date(1970, 1, 2)]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from modax.schema import UTC_MS

__all__ = ["MAX_RUNS", "Grid", "dates", "keep", "timestamps"]

#: Up to this many runs of kept rows, :func:`keep` slices instead of filtering.
MAX_RUNS = 64
_DAY_MS = 86_400_000


@dataclass(frozen=True)
class Grid:
    """Per-row index columns of an ``n_devices × n_readings`` chunk, device-major.

    Attributes
    ----------
    device, reading : numpy.ndarray of int64
        Device index and reading index within the chunk, per row.
    ids : pyarrow.StringArray
        Device id per row.
    nulls : pyarrow.DoubleArray
        All null, one per row (the channels a simulated device does not have).
    """

    device: np.ndarray
    reading: np.ndarray
    ids: pa.Array
    nulls: pa.Array

    @classmethod
    def of(cls, device_ids: pa.Array, n_readings: int) -> Grid:
        """The grid of ``n_readings`` readings of each device in ``device_ids``."""
        n = len(device_ids)
        device = np.repeat(np.arange(n, dtype=np.int64), n_readings)
        return cls(
            device=device,
            reading=np.tile(np.arange(n_readings, dtype=np.int64), n),
            ids=_repeat_strings(device_ids, n_readings, device),
            nulls=pa.nulls(n * n_readings, pa.float64()),
        )


def _repeat_strings(strings: pa.Array, times: int, index: np.ndarray) -> pa.Array:
    """Each string ``times`` times in a row, as ``strings.take(index)``.

    A block copy when they all have the same length, as a fleet's device ids do.
    """
    offsets = np.frombuffer(strings.buffers()[1], np.int32)[strings.offset :][: len(strings) + 1]
    width = int(offsets[1] - offsets[0]) if len(strings) else 0
    total = len(index) * width
    if not width or strings.null_count or total >= 2**31 or (np.diff(offsets) != width).any():
        return strings.take(pa.array(index))
    chars = np.frombuffer(strings.buffers()[2], np.uint8)[offsets[0] : offsets[-1]]
    data = np.repeat(chars.reshape(len(strings), width), times, axis=0)
    starts = np.arange(0, total + 1, width, dtype=np.int32)
    return pa.StringArray.from_buffers(len(index), pa.py_buffer(starts), pa.py_buffer(data))


def timestamps(ms: np.ndarray) -> pa.Array:
    """Epoch milliseconds (int64) as ``timestamp[ms, UTC]``, sharing the numpy buffer."""
    ms = np.ascontiguousarray(ms, np.int64)
    return pa.Array.from_buffers(UTC_MS, len(ms), [None, pa.py_buffer(ms)])


def dates(ms: np.ndarray) -> pa.Array:
    """UTC day (``date32``) of epoch milliseconds; one fill when they all fall on one day."""
    if len(ms) and ms.min() // _DAY_MS == ms.max() // _DAY_MS:
        days = np.full(len(ms), ms[0] // _DAY_MS, np.int32)
    else:
        days = (ms // _DAY_MS).astype(np.int32)
    return pa.Array.from_buffers(pa.date32(), len(days), [None, pa.py_buffer(days)])


def keep(table: pa.Table, rows: np.ndarray) -> pa.Table:
    """The rows of ``table`` where ``rows`` (bool) is true, in order.

    All rows: the table itself; up to :data:`MAX_RUNS` runs of kept rows: zero-copy slices;
    more: Arrow's filter.
    """
    dropped = np.flatnonzero(~rows)
    if not len(dropped):
        return table
    starts = np.r_[0, dropped + 1]
    ends = np.r_[dropped, len(rows)]
    runs = ends > starts
    if runs.sum() > MAX_RUNS:
        return table.filter(pa.array(rows))
    if not runs.any():
        return table.slice(0, 0)
    return pa.concat_tables(
        [table.slice(s, e - s) for s, e in zip(starts[runs], ends[runs], strict=True)]
    )
