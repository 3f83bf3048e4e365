"""Streaming tumbling-window statistics per device on event time (numba).

Each device's readings fall into windows ``[k·width, (k+1)·width)`` ms of event time. For every
channel a window gets mean, sample standard deviation, min, max, RMS and peak-to-peak, from float64
shifted sums: ``Σ(x - K)`` and ``Σ(x - K)²`` with ``K`` the window's first value (the shifted-data
algorithm of Chan, Golub & LeVeque), which keeps the variance free of catastrophic cancellation
even for values like 10⁹ ± 10⁻³, and lets partial windows carry across batches exactly.

Streaming: batches are processed one after another and partial windows carry across them. Each
device has its own watermark, the latest event time it has sent. A window closes (is emitted) once
its device's watermark reaches ``window end + allowed_lateness_ms``; a reading for a window that is
already closed is *late*: it is counted in :attr:`WindowAggregator.late_count` and handed back by
:meth:`WindowAggregator.late_rows`, never merged into a closed window nor silently dropped. Because
the decision for each reading depends only on the readings before it, processing a stream in any
split into batches gives the windows of processing it in one piece (up to float rounding).

Input need not be sorted: rows of many devices may interleave freely (per-device state, no sort);
within a device, readings out of order by less than the allowed lateness are merged correctly.
Sorted input (by device, then time) is fastest: a run of rows in one window is summed in registers,
and a window certain to close within the run is written straight out, never stored as state.

The kernels allocate nothing and run without numba's reference counting (``_nrt=False``): with
it, every array handed from one kernel to another costs an atomic increment and decrement per
call, which made the per-row path three times slower.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numba as nb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from modax.kernels._arrays import readonly
from modax.kernels._devices import DeviceCodes
from modax.schema import TELEMETRY_CHANNELS, UTC_MS, pooled_array

__all__ = ["STATS", "Rolling", "WindowAggregator", "table_name"]

#: Statistics computed per channel, in output order (``<channel>_<stat>`` columns).
STATS: tuple[str, ...] = ("mean", "std", "min", "max", "rms", "p2p")

_EMPTY = np.iinfo(np.int64).min
_NEVER = np.iinfo(np.int64).max
# accumulator layout per (device, slot, channel): n, shift, Σ(x-shift), Σ(x-shift)², min, max
_N, _SHIFT, _S1, _S2, _MIN, _MAX = range(6)
_ACC = 6
# per-device integer state: watermark, next closing deadline, current window, its slot and its
# bounds [_LO, _HI) in ms while it is open, then each slot's window index and row count
_WM, _NEXT, _CUR, _CURK, _LO, _HI = range(6)
_SLOTS = 6
_MAX_SLOTS = 4096
_PARALLEL_ROWS = 200_000  # smaller batches run on one thread
_EMPTY_SUMS = (0.0, 0.0, 0.0, 0.0, np.inf, -np.inf)  # n, shift, Σ, Σ², min, max
_BLOCK = 4096  # rows a thread sorts out, and windows the sorted path writes, at a time
_LINE = 16  # int64s per thread for counters the threads update: 128 bytes apart


def table_name(width_ms: int) -> str:
    """The lake table of windows ``width_ms`` wide: ``aggregates_1s``, ``aggregates_1min``, ...

    Examples
    --------
    >>> table_name(1000), table_name(10_000), table_name(60_000), table_name(250)
    ('aggregates_1s', 'aggregates_10s', 'aggregates_1min', 'aggregates_250ms')
    """
    for unit, size in (("h", 3_600_000), ("min", 60_000), ("s", 1000)):
        if width_ms % size == 0:
            return f"aggregates_{width_ms // size}{unit}"
    return f"aggregates_{width_ms}ms"


@nb.njit(cache=True, inline="always", _nrt=False)
def _selection(sel):
    """``sel`` as ``(tuple of its 6 entries, how many statistics it selects)``.

    A tuple lives in registers: read from the array, the entries would be loaded again after
    every store to the outputs (which might alias them, as far as the compiler knows).
    """
    n_stats = 0
    for s in range(6):
        n_stats += sel[s] >= 0
    return (sel[0], sel[1], sel[2], sel[3], sel[4], sel[5]), n_stats


@nb.njit(cache=True, inline="always", _nrt=False)
def _load(acc, o):
    """One channel's sums at ``acc[o:]``: ``(n, shift, Σ(x-shift), Σ(x-shift)², min, max)``."""
    return acc[o + _N], acc[o + _SHIFT], acc[o + _S1], acc[o + _S2], acc[o + _MIN], acc[o + _MAX]


@nb.njit(cache=True, inline="always", _nrt=False)
def _put(out_stats, selection, pos, c, sums):
    """Write channel ``c``'s statistics of one window to row ``pos``; returns the NaNs written.

    ``sums`` is ``(n, shift, Σ(x-shift), Σ(x-shift)², min, max)``; ``selection`` is
    :func:`_selection`'s: ``sel[s]`` is the output row (within a channel's block) of statistic
    ``STATS[s]``, or -1.
    """
    n, shift, s1, s2, lo, hi = sums
    sel, n_stats = selection
    row = c * n_stats
    if n == 0.0:
        for s in range(n_stats):
            out_stats[row + s, pos] = np.nan
        return n_stats
    nans = 0
    inv = 1.0 / n
    if sel[0] >= 0:
        out_stats[row + sel[0], pos] = shift + s1 * inv
    if sel[1] >= 0:
        if n > 1.0:
            m2 = max(s2 - s1 * s1 * inv, 0.0)
            out_stats[row + sel[1], pos] = math.sqrt(m2 / (n - 1.0))
        else:
            out_stats[row + sel[1], pos] = np.nan
            nans += 1
    if sel[2] >= 0:
        out_stats[row + sel[2], pos] = lo
    if sel[3] >= 0:
        out_stats[row + sel[3], pos] = hi
    if sel[4] >= 0:
        sq = max(s2 + shift * (2.0 * s1 + n * shift), 0.0)
        out_stats[row + sel[4], pos] = math.sqrt(sq * inv)
    if sel[5] >= 0:
        out_stats[row + sel[5], pos] = hi - lo
    return nans


@nb.njit(cache=True, inline="always", _nrt=False)
def _write(d, start_ms, rows, acc, b, outs, pos):
    """Write one window's statistics, from the accumulators at ``acc[b:]``, to row ``pos``.

    ``nans[0]`` counts the NaN statistics written (none: the columns need no null bitmap).
    """
    out_dev, out_win, out_rows, out_stats, sel, nans = outs
    out_dev[pos] = d
    out_win[pos] = start_ms
    out_rows[pos] = rows
    selection = _selection(sel)
    o = b
    for c in range(out_stats.shape[0] // selection[1]):
        nans[0] += _put(out_stats, selection, pos, c, _load(acc, o))
        o += _ACC
    return pos + 1


@nb.njit(cache=True, inline="always", _nrt=False)
def _emit(d, k, width, dev, acc, outs, pos):
    """Write window ``(d, k)``'s statistics to row ``pos`` of ``outs`` and free the slot."""
    n_slots = (dev.shape[1] - _SLOTS) // 2
    n_ch = acc.shape[0] // (dev.shape[0] * n_slots * _ACC)
    b = (d * n_slots + k) * n_ch * _ACC
    start_ms = dev[d, _SLOTS + k] * width
    pos = _write(d, start_ms, dev[d, _SLOTS + n_slots + k], acc, b, outs, pos)
    dev[d, _SLOTS + k] = _EMPTY
    if dev[d, _CURK] == k:
        dev[d, _LO] = _NEVER
    return pos


@nb.njit(cache=True, _nrt=False)
def _close(d, newest, limit, width, lateness, dev, acc, outs, pos):
    """Emit device ``d``'s windows whose deadline (end + lateness) is ``<= limit``, oldest first.

    Slot ``w % n_slots`` holds window ``w``: oldest first is slot order after ``newest``'s.
    """
    n_slots = (dev.shape[1] - _SLOTS) // 2
    nxt = _NEVER
    k = newest % n_slots
    for _ in range(n_slots):
        k = k + 1 if k + 1 < n_slots else 0
        w = dev[d, _SLOTS + k]
        if w != _EMPTY:
            deadline = (w + 1) * width + lateness
            if deadline <= limit:
                pos = _emit(d, k, width, dev, acc, outs, pos)
            else:
                nxt = min(nxt, deadline)
    dev[d, _NEXT] = nxt
    return pos


@nb.njit(cache=True, inline="always", _nrt=False)
def _sums(col, i, j, sums):
    """Rows ``i..j`` of ``col`` added to one channel's ``sums`` (NaN = missing), in registers.

    The first reading of an empty window becomes its shift (taken out of the loop).
    """
    cnt, shift, s1, s2, lo, hi = sums
    while cnt == 0.0 and i < j:
        x = np.float64(col[i])
        i += 1
        if not math.isnan(x):
            shift, cnt, lo, hi = x, 1.0, x, x
    for r in range(i, j):
        x = np.float64(col[r])
        if not math.isnan(x):
            dx = x - shift
            s1 += dx
            s2 += dx * dx
            lo = min(lo, x)
            hi = max(hi, x)
            cnt += 1.0
    return cnt, shift, s1, s2, lo, hi


@nb.njit(cache=True, inline="always", _nrt=False)
def _window_sums(col, i, j):
    """:func:`_sums` of rows ``i..j`` (at least one) of an empty window.

    First without the test for missing values in the loop: the same operations in the same
    order, so without a NaN the sums are :func:`_sums`' bit for bit. A NaN shows in the shift
    or in ``Σ(x-shift)``; then :func:`_sums` does it again. Unsigned row numbers spare the
    loop numba's test for negative indices.
    """
    first = np.uint64(i)
    shift = np.float64(col[first])
    s1 = s2 = 0.0
    lo = hi = shift
    for r in range(first + np.uint64(1), np.uint64(j)):
        x = np.float64(col[r])
        dx = x - shift
        s1 += dx
        s2 += dx * dx
        lo = min(lo, x)
        hi = max(hi, x)
    if math.isnan(s1) or math.isnan(shift):
        return _sums(col, i, j, _EMPTY_SUMS)
    return np.float64(j - i), shift, s1, s2, lo, hi


@nb.njit(cache=True, inline="always", _nrt=False)
def _accumulate(values, i, j, acc, b):
    """Add rows ``i..j`` of every channel to the accumulators at ``acc[b:]`` (NaN = missing)."""
    o = b
    for col in nb.literal_unroll(values):
        sums = _sums(col, i, j, _load(acc, o))
        for a in range(_ACC):
            acc[o + a] = sums[a]
        o += _ACC


@nb.njit(cache=True, inline="always", _nrt=False)
def _accumulate_row(values, r, acc, b):
    """Add row ``r`` of every channel to the accumulators at ``acc[b:]`` (NaN = missing).

    :func:`_accumulate` of one row, updating the accumulators in place: the per-row path of
    interleaved devices runs a quarter faster this way than through :func:`_sums`.
    """
    o = b
    for col in nb.literal_unroll(values):
        x = np.float64(col[r])
        if not math.isnan(x):
            cnt = acc[o + _N]
            if cnt == 0.0:
                acc[o + _SHIFT] = x
            dx = x - acc[o + _SHIFT]
            acc[o + _N] = cnt + 1.0
            acc[o + _S1] += dx
            acc[o + _S2] += dx * dx
            acc[o + _MIN] = min(acc[o + _MIN], x)
            acc[o + _MAX] = max(acc[o + _MAX], x)
        o += _ACC


@nb.njit(cache=True, inline="always", _nrt=False)
def _clear(acc, b, n_ch):
    """Empty accumulators for ``n_ch`` channels at ``acc[b:]``."""
    for o in range(b, b + n_ch * _ACC, _ACC):
        for a in range(_ACC):
            acc[o + a] = _EMPTY_SUMS[a]


@nb.njit(cache=True, inline="always", _nrt=False)
def _advance(d, t, width, lateness, dev, acc, outs, pos):
    """Raise device ``d``'s watermark to ``t`` ms, emitting the windows that closes."""
    if t > dev[d, _WM]:
        dev[d, _WM] = t
        if dev[d, _NEXT] <= t:
            pos = _close(d, dev[d, _CUR], t, width, lateness, dev, acc, outs, pos)
    return pos


@nb.njit(cache=True, _nrt=False)
def _run(codes, ts, values, i, width, lateness, state, outs, pos, bounds):
    """Rows ``i..`` of the device of row ``i - 1``, in time order: the sorted-input fast path.

    First the rows left in the device's current window go into its accumulators at once.
    Then the following windows that are certain to close within this run of rows (the run stays
    in time order up to a reading past each window's deadline, so no reading can still join
    them) are found (their row bounds into ``bounds``) and written straight out, one channel at
    a time, never touching the per-device state. Returns the first row not handled and the
    output rows written.
    """
    dev, acc = state
    out_dev, out_win, out_rows, out_stats, sel, nans = outs
    n = ts.shape[0]
    n_ch = len(values)
    n_slots = (dev.shape[1] - _SLOTS) // 2
    d = codes[i - 1]
    lo, hi, k = dev[d, _LO], dev[d, _HI], dev[d, _CURK]
    j = i
    while j < n and codes[j] == d and ts[j] >= lo and ts[j] < hi:
        j += 1
    if j > i:
        dev[d, _SLOTS + n_slots + k] += j - i
        _accumulate(values, i, j, acc, (d * n_slots + k) * n_ch * _ACC)
        pos = _advance(d, max(ts[i:j]), width, lateness, dev, acc, outs, pos)
    end = j  # rows j..end are this device's, in time order
    while end < n and codes[end] == d and ts[end] >= ts[end - 1]:
        end += 1
    last = ts[end - 1]
    rows, starts = bounds[0], bounds[1]
    room = min(rows.shape[0] - 1, out_win.shape[0] - pos - 4 * n_slots - 1)
    wm = dev[d, _WM]
    m = 0
    rows[0] = j
    e = j
    if e < end:
        w = ts[e] // width
    while e < end and m < room:
        start = w * width
        wend = start + width
        if wend + lateness > last or wend + lateness <= wm:
            break
        if start <= wm and dev[d, _SLOTS + w % n_slots] == w:  # only these can be open
            break
        e += 1
        while e < end and ts[e] < wend:
            e += 1
        starts[m] = start
        m += 1
        rows[m] = e
        if e < end:  # the next window: mostly the one right after, no division needed
            w = w + 1 if ts[e] < wend + width else ts[e] // width
    if m == 0:
        return j, pos
    pos = _advance(d, ts[j], width, lateness, dev, acc, outs, pos)
    for q in range(m):
        out_dev[pos + q] = d
        out_win[pos + q] = starts[q]
        out_rows[pos + q] = rows[q + 1] - rows[q]
    selection = _selection(sel)
    for c in range(n_ch):
        col = values[c]
        for q in range(m):
            sums = _window_sums(col, rows[q], rows[q + 1])
            nans[0] += _put(out_stats, selection, pos + q, c, sums)
    pos += m
    return rows[m], _advance(d, ts[rows[m] - 1], width, lateness, dev, acc, outs, pos)


@nb.njit(cache=True, inline="always", _nrt=False)
def _row(codes, ts, values, i, width, lateness, state, late, outs, pos, bounds):
    """Row ``i`` into its device's window, then the device's rows right after it (if any).

    A row inside its device's current window takes the fast path: watermark, count,
    accumulators. Any other row finds or opens its window's slot, or is late. Following rows
    of the same device go to :func:`_run`. Returns the next row and the output rows written.
    """
    dev, acc = state
    n_ch = len(values)
    n_slots = (dev.shape[1] - _SLOTS) // 2
    d = codes[i]
    t = ts[i]
    if t >= dev[d, _LO] and t < dev[d, _HI]:
        k = dev[d, _CURK]
    else:
        w = t // width
        wend = (w + 1) * width
        if wend + lateness <= dev[d, _WM]:
            late[i] = True
            return i + 1, pos
        k = w % n_slots
        if dev[d, _SLOTS + k] != w:
            if dev[d, _SLOTS + k] != _EMPTY:
                pos = _emit(d, k, width, dev, acc, outs, pos)
            dev[d, _SLOTS + k] = w
            dev[d, _SLOTS + n_slots + k] = 0
            _clear(acc, (d * n_slots + k) * n_ch * _ACC, n_ch)
            dev[d, _NEXT] = min(dev[d, _NEXT], wend + lateness)
        dev[d, _CUR] = w
        dev[d, _CURK] = k
        dev[d, _LO] = wend - width
        dev[d, _HI] = wend
    pos = _advance(d, t, width, lateness, dev, acc, outs, pos)
    dev[d, _SLOTS + n_slots + k] += 1
    _accumulate_row(values, i, acc, (d * n_slots + k) * n_ch * _ACC)
    i += 1
    if i < codes.shape[0] and codes[i] == d:
        return _run(codes, ts, values, i, width, lateness, state, outs, pos, bounds)
    return i, pos


@nb.njit(cache=True, _nrt=False)
def _aggregate(
    codes, ts, values, start, width, lateness, state, late, outs, pos, first, last, bounds, rows
):
    """Feed rows ``start..`` into the per-device windows; stop early when ``outs`` may overflow.

    Only devices ``first <= code < last`` are handled, so threads can share the state (each
    device's state is touched by one thread only). A thread takes the rows a block of
    ``len(rows)`` at a time and first counts its rows in the block (a loop the compiler
    vectorises): a block of other threads' rows is skipped, a block of its own handled in place;
    otherwise it lists its rows without a branch, then handles them (on interleaved devices,
    testing each row's device would mispredict every other row).

    Per device, one row of ``dev`` holds the watermark, the next closing deadline, the current
    window, its slot and its bounds ``[_LO, _HI)`` (empty once it closed), then each slot's
    window and row count; ``acc`` holds each slot's accumulators. Returns the next row and the
    output rows written.
    """
    n = ts.shape[0]
    n_slots = (state[0].shape[1] - _SLOTS) // 2
    cap = outs[1].shape[0]
    span = np.uint64(last - first)
    i = start
    while i < n:
        end = min(n, i + rows.shape[0])
        mine = 0
        for r in range(i, end):
            mine += np.uint64(codes[r] - first) < span
        if mine == end - i:
            while i < end:  # a run may take this row past the block's end
                if pos + 2 * n_slots > cap:
                    return i, pos
                i, pos = _row(codes, ts, values, i, width, lateness, state, late, outs, pos, bounds)
            continue
        m = 0
        if mine:
            for r in range(i, end):
                rows[m] = r
                m += np.uint64(codes[r] - first) < span
        q = 0
        i = end
        while q < m:
            r = rows[q]
            if pos + 2 * n_slots > cap:
                return r, pos
            after, pos = _row(codes, ts, values, r, width, lateness, state, late, outs, pos, bounds)
            q += after - r
            i = max(i, after)
    return n, pos


@nb.njit(cache=True, parallel=True)
def _aggregate_parts(
    codes, ts, values, starts, width, lateness, state, late, outs, positions, edges, bounds, rows
):
    """:func:`_aggregate` in parallel: thread ``p`` on devices ``edges[p] <= code < edges[p + 1]``.

    One output each.
    """
    out_dev, out_win, out_rows, out_stats, sel, nans = outs
    parts = starts.shape[0]
    for p in nb.prange(parts):
        part_outs = (out_dev[p], out_win[p], out_rows[p], out_stats[p], sel, nans[p])
        i, pos = _aggregate(
            codes,
            ts,
            values,
            starts[p],
            width,
            lateness,
            state,
            late,
            part_outs,
            0,
            edges[p],
            edges[p + 1],
            bounds[p],
            rows[p],
        )
        starts[p] = i
        positions[p] = pos


@nb.njit(cache=True, _nrt=False)
def _flush(width, state, outs, pos):
    dev, acc = state
    for d in range(dev.shape[0]):
        pos = _close(d, dev[d, _WM] // width, _NEVER - 1, width, 0, dev, acc, outs, pos)
    return pos


class WindowAggregator:
    """Per-device tumbling-window statistics over a stream of telemetry batches.

    Parameters
    ----------
    width_ms : int
        Window width in ms (1000 → ``aggregates_1s``).
    allowed_lateness_ms : int
        How long after a window's end (in the device's event time) it stays open for
        out-of-order readings, in ms.
    channels : sequence of str
        Numeric columns to aggregate (default: every telemetry channel).
    stats : sequence of str
        Statistics to output per channel, a subset of :data:`STATS` (default: all).
    threads : int, optional
        Threads for large batches, each owning a share of the devices (default: numba's
        thread count, i.e. the CPU count or ``NUMBA_NUM_THREADS``).

    Attributes
    ----------
    late_count : int
        Readings that arrived after their window had closed (see :meth:`late_rows`).
    last_late : ndarray of bool
        Which rows of the last batch were late.

    Examples
    --------
    >>> import pyarrow as pa
    >>> agg = WindowAggregator(width_ms=1000, allowed_lateness_ms=0, channels=["current_1"])
    >>> ts = pa.array([0, 400, 900, 1200], pa.timestamp("ms", tz="UTC"))
    >>> batch = pa.table({"device_id": ["m1"] * 4, "ts": ts, "current_1": [1.0, 3.0, 2.0, 5.0]})
    >>> closed = agg.process(batch)
    >>> closed["count"].to_pylist(), closed["current_1_mean"].to_pylist()
    ([3], [2.0])
    >>> agg.flush()["current_1_max"].to_pylist()
    [5.0]
    """

    def __init__(
        self,
        width_ms: int = 1000,
        allowed_lateness_ms: int = 2000,
        channels: Sequence[str] = TELEMETRY_CHANNELS,
        stats: Sequence[str] = STATS,
        threads: int | None = None,
    ) -> None:
        self.width_ms = width_ms
        self.allowed_lateness_ms = allowed_lateness_ms
        self.channels = tuple(channels)
        self.threads = threads
        self.stats = tuple(s for s in STATS if s in stats)
        unknown = sorted(set(stats) - set(STATS))
        if unknown or not self.stats:
            raise ValueError(f"stats={list(stats)}: choose one or more of {list(STATS)}")
        self._sel = np.array(
            [self.stats.index(s) if s in self.stats else -1 for s in STATS], np.int64
        )
        if width_ms <= 0:
            raise ValueError(f"width_ms={width_ms}: must be a positive number of ms")
        if allowed_lateness_ms < 0:
            raise ValueError(f"allowed_lateness_ms={allowed_lateness_ms}: must be 0 or more")
        self._slots = -(-allowed_lateness_ms // width_ms) + 1
        if self._slots > _MAX_SLOTS:
            raise ValueError(
                f"allowed_lateness_ms={allowed_lateness_ms}: at most "
                f"{(_MAX_SLOTS - 1) * width_ms} ms for {width_ms} ms windows"
            )
        self.devices = DeviceCodes()
        self.late_count = 0
        self.last_late = np.zeros(0, np.bool_)
        self._late: list[pa.Table] = []
        self._state = self._new_state(0)

    @property
    def table(self) -> str:
        """Lake table name of these windows (``aggregates_1s`` for 1 s)."""
        return table_name(self.width_ms)

    def _new_state(self, n_devices: int) -> tuple[np.ndarray, np.ndarray]:
        n_slots, n_ch = self._slots, len(self.channels)
        dev = np.zeros((n_devices, _SLOTS + 2 * n_slots), np.int64)
        dev[:, [_WM, _CUR]] = _EMPTY
        dev[:, [_NEXT, _LO, _HI]] = _NEVER
        dev[:, _SLOTS : _SLOTS + n_slots] = _EMPTY
        return dev, np.zeros(n_devices * n_slots * n_ch * _ACC, np.float64)

    def _grow(self, n_devices: int) -> None:
        have = self._state[0].shape[0]
        if n_devices <= have:
            return
        new = self._new_state(max(n_devices, 2 * have))
        for old, fresh in zip(self._state, new, strict=True):
            fresh[: len(old)] = old
        self._state = new

    def _open_windows(self) -> int:
        return int(np.count_nonzero(self._state[0][:, _SLOTS : _SLOTS + self._slots] != _EMPTY))

    def _outputs(self, cap: int, parts: int = 1) -> tuple[np.ndarray, ...]:
        """Output arrays for ``parts`` threads: device, window start, rows, stats, sel, NaNs."""
        return (
            pooled_array((parts, cap), np.int32),
            pooled_array((parts, cap), np.int64),
            pooled_array((parts, cap), np.int64),
            pooled_array((parts, len(self.channels) * len(self.stats), cap), np.float64),
            self._sel,
            np.zeros((parts, _LINE), np.int64),  # a cache line each: no false sharing
        )

    @staticmethod
    def _part(outs: tuple[np.ndarray, ...], part: int) -> tuple[np.ndarray, ...]:
        """The output arrays of thread ``part``, as the kernels take them."""
        return (*(a[part] for a in outs[:4]), outs[4], outs[5][part])

    def process_arrays(
        self,
        device_codes: np.ndarray,
        ts_ms: np.ndarray,
        values: Mapping[str, np.ndarray] | Sequence[np.ndarray],
    ) -> pa.Table:
        """Aggregate one batch given as numpy arrays; returns the windows it closed.

        Parameters
        ----------
        device_codes : ndarray of int
            Device of each row as a small non-negative integer (state is kept per code).
        ts_ms : ndarray of int64
            Event time of each row, epoch ms (UTC).
        values : mapping of channel name to ndarray, or sequence in ``channels`` order
            Readings (float32 or float64, NaN = missing), one array per channel.

        Returns
        -------
        pyarrow.Table
            Closed windows with a ``device`` column of codes instead of ``device_id``.
        """
        columns = [values[c] for c in self.channels] if isinstance(values, Mapping) else values
        if len(columns) != len(self.channels):
            raise ValueError(f"values: {len(columns)} arrays for {len(self.channels)} channels")
        dtype = np.result_type(*columns) if columns else np.float64
        if dtype not in (np.float32, np.float64):
            dtype = np.float64
        arrays = tuple(readonly(np.ascontiguousarray(c, dtype=dtype)) for c in columns)
        codes = np.ascontiguousarray(device_codes, dtype=np.int32)
        ts = np.ascontiguousarray(ts_ms, dtype=np.int64)
        if codes.shape != ts.shape or any(a.shape != ts.shape for a in arrays):
            raise ValueError("device_codes, ts_ms and every channel must have the same length")
        if len(codes) and codes.min() < 0:
            raise ValueError("device_codes: must be non-negative")
        self._grow(int(codes.max()) + 1 if len(codes) else 0)
        late = np.zeros(len(ts), np.bool_)
        parts = self.threads or nb.get_num_threads()
        parts = 1 if len(ts) < _PARALLEL_ROWS else max(1, min(parts, nb.get_num_threads()))
        cap = max(1024, len(ts) // (8 * parts) + self._open_windows() + 4 * self._slots)
        starts = np.zeros(parts, np.int64)
        tables = []
        while True:
            outs = self._outputs(cap, parts)
            positions = np.zeros(parts, np.int64)
            args = (codes, ts, arrays)
            rest = (self.width_ms, self.allowed_lateness_ms, self._state, late)
            bounds = np.empty((parts, 2, _BLOCK + 1), np.int64)
            rows = np.empty((parts, _BLOCK), np.int64)
            n_dev = len(self._state[0])
            if parts == 1:  # no thread pool for the small batches of live ingestion
                one = self._part(outs, 0)
                starts[0], positions[0] = _aggregate(
                    *args, starts[0], *rest, one, 0, 0, n_dev, bounds[0], rows[0]
                )
            else:  # contiguous codes per thread: their state shares no cache lines
                edges = np.arange(parts + 1) * n_dev // parts
                _aggregate_parts(*args, starts, *rest, outs, positions, edges, bounds, rows)
            tables += [self._to_table(outs, int(positions[p]), p) for p in range(parts)]
            if (starts >= len(ts)).all():
                break
        self.last_late = late
        self.late_count += int(np.count_nonzero(late))
        return pa.concat_tables(tables) if len(tables) > 1 else tables[0]

    def process(self, telemetry: pa.Table) -> pa.Table:
        """Aggregate one batch of telemetry rows; returns the windows it closed, lake-ready.

        Parameters
        ----------
        telemetry : pyarrow.Table
            ``device_id``, ``ts`` (timestamp or epoch ms) and the channel columns.

        Returns
        -------
        pyarrow.Table
            ``device_id, window_start, width_ms, count, <channel>_<stat>..., date``.
        """
        missing = [
            c for c in ("device_id", "ts", *self.channels) if c not in telemetry.column_names
        ]
        if missing:
            raise ValueError(f"telemetry: missing column(s) {missing}")
        codes = self.devices.encode(telemetry["device_id"])
        ts = pc.cast(telemetry["ts"], pa.int64()).to_numpy()
        values = [
            pc.cast(telemetry[c], pa.float64()).to_numpy(zero_copy_only=False)
            for c in self.channels
        ]
        windows = self.process_arrays(codes, ts, values)
        if self.last_late.any():
            self._late.append(telemetry.filter(pa.array(self.last_late)))
        return self._named(windows)

    def flush(self) -> pa.Table:
        """Emit every window still open (end of stream), lake-ready like :meth:`process`."""
        return self._named(self.flush_arrays())

    def flush_arrays(self) -> pa.Table:
        """Emit every window still open, with device codes like :meth:`process_arrays`."""
        open_windows = self._open_windows()
        outs = self._outputs(max(open_windows, 1))
        pos = _flush(self.width_ms, self._state, self._part(outs, 0), 0)
        return self._to_table(outs, pos)

    def late_rows(self) -> pa.Table | None:
        """The late telemetry rows handed to :meth:`process` since the last call (then forgotten).

        ``None`` when there were none.
        """
        if not self._late:
            return None
        rows = pa.concat_tables(self._late)
        self._late = []
        return rows

    def _to_table(self, outs: tuple[np.ndarray, ...], pos: int, part: int = 0) -> pa.Table:
        out_dev, out_win, out_rows, out_stats = (a[part] for a in outs[:4])
        nulls = bool(outs[5][part, 0])  # NaN statistics become nulls; else no scan for them
        width = pooled_array((pos,), np.int64)
        width.fill(self.width_ms)
        columns: dict[str, pa.Array] = {
            "device": pa.array(out_dev[:pos]),
            "window_start": pa.array(out_win[:pos]).cast(UTC_MS),
            "width_ms": pa.array(width),
            "count": pa.array(out_rows[:pos]),
        }
        for c, channel in enumerate(self.channels):
            for s, stat in enumerate(self.stats):
                columns[f"{channel}_{stat}"] = pa.array(
                    out_stats[c * len(self.stats) + s, :pos], from_pandas=nulls
                )
        return pa.table(columns)

    def _named(self, windows: pa.Table) -> pa.Table:
        device_id = self.devices.decode(windows["device"].to_numpy())
        named = windows.drop_columns(["device"]).add_column(0, "device_id", device_id)
        return named.append_column("date", pc.cast(named["window_start"], pa.date32()))


@nb.njit(cache=True)
def _rolling(codes, values, window, ring, filled, head, mean, std):
    for i in range(values.shape[0]):
        d = codes[i]
        ring[d, head[d]] = values[i]
        head[d] = (head[d] + 1) % window
        filled[d] = min(filled[d] + 1, window)
        if filled[d] < window:
            mean[i] = np.nan
            std[i] = np.nan
            continue
        total = 0.0
        for k in range(window):
            total += ring[d, k]
        m = total / window
        ss = 0.0
        for k in range(window):
            dx = ring[d, k] - m
            ss += dx * dx
        mean[i] = m
        std[i] = math.sqrt(ss / (window - 1)) if window > 1 else np.nan


class Rolling:
    """Rolling mean and sample std over each device's last ``n_samples`` readings (sliding).

    State carries across batches; a row gets NaN until its device has ``n_samples`` readings
    (like pandas ``rolling(n_samples)``). Exact two-pass sums over the window, no drift.

    Parameters
    ----------
    n_samples : int
        Readings in the window.

    Examples
    --------
    >>> import numpy as np
    >>> r = Rolling(2)
    >>> mean, std = r.process(np.array([0, 0, 1, 0]), np.array([1.0, 3.0, 7.0, 5.0]))
    >>> mean.tolist()
    [nan, 2.0, nan, 4.0]
    """

    def __init__(self, n_samples: int) -> None:
        if n_samples < 1:
            raise ValueError(f"n_samples={n_samples}: must be at least 1")
        self.n_samples = n_samples
        self._ring = np.zeros((0, n_samples))
        self._filled = np.zeros(0, np.int64)
        self._head = np.zeros(0, np.int64)

    def process(self, device_codes: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, ...]:
        """Rolling ``(mean, std)`` at each row, rows in arrival order."""
        codes = np.ascontiguousarray(device_codes, dtype=np.int64)
        x = np.ascontiguousarray(values, dtype=np.float64)
        need = int(codes.max()) + 1 if len(codes) else 0
        if need > len(self._filled):
            grow = need - len(self._filled)
            self._ring = np.vstack([self._ring, np.zeros((grow, self.n_samples))])
            self._filled = np.concatenate([self._filled, np.zeros(grow, np.int64)])
            self._head = np.concatenate([self._head, np.zeros(grow, np.int64)])
        mean = np.empty(len(x))
        std = np.empty(len(x))
        _rolling(codes, x, self.n_samples, self._ring, self._filled, self._head, mean, std)
        return mean, std
