"""The deterministic safety rules of ``docs/safety-rules.md`` as a stateful numba kernel.

Each rule is a state machine per device, carried across batches. A state change is one row of
``safety_events`` (``device_id, ts, kind, state, value, threshold, date``): a state that persists is
one ``begin`` row and later one ``end`` row, never one row per reading. The same rules run in the
firmware's C++ core and in a plain-Python reference twin; all three agree on the shared vectors in
``firmware/vectors/safety_*.json``. No rule depends on a model.

``stale`` (no reading for longer than ``stale_after_ms``) is judged against a processing clock: the
``now_ms`` given to :meth:`SafetyChecker.process`, or by default the latest event time seen from
any device (the watermark), so a replay of old data is judged as it was when live. A ``stale``
period begins at ``last reading + stale_after_ms`` and ends at the device's next reading, however
the stream is split into batches.
"""

from __future__ import annotations

import numba as nb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from modax.kernels._arrays import readonly
from modax.kernels._devices import DeviceCodes
from modax.schema import MAX_CHANNELS, UTC_MS, SafetyConfig

__all__ = ["KINDS", "SAFETY_EVENTS_SCHEMA", "VECTOR_KINDS", "SafetyChecker", "SafetyConfig"]

#: Event kinds, in the order they are evaluated for one reading.
KINDS: tuple[str, ...] = (
    "overload",
    "overtemp",
    "temp_rise",
    "current_imbalance",
    "sensor_stuck",
    "emergency_stop",
    "door_open",
    "stale",
)
#: Kinds evaluated from telemetry alone, as on the device (the shared vectors cover these).
VECTOR_KINDS: tuple[str, ...] = KINDS[:5]
_ESTOP, _DOOR, _STALE = 5, 6, 7

#: The ``safety_events`` lake table.
SAFETY_EVENTS_SCHEMA = pa.schema(
    [
        pa.field("device_id", pa.string(), nullable=False),
        pa.field("ts", UTC_MS, nullable=False),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("state", pa.string(), nullable=False),
        pa.field("value", pa.float64()),
        pa.field("threshold", pa.float64()),
        pa.field("date", pa.date32()),
    ]
)

_EMPTY = np.iinfo(np.int64).min
_CURRENTS = tuple(f"current_{i}" for i in range(1, MAX_CHANNELS + 1))
_TEMPS = tuple(f"temp_{i}" for i in range(1, MAX_CHANNELS + 1))
_AXES = ("vib_x", "vib_y", "vib_z")
_MAX_EVENTS_PER_ROW = 7  # 5 rules + a stale begin and end


@nb.njit(cache=True, inline="always")
def _event(ev, pos, d, t, kind, begin, value, threshold):
    ev_dev, ev_ts, ev_kind, ev_begin, ev_value, ev_thr = ev
    ev_dev[pos] = d
    ev_ts[pos] = t
    ev_kind[pos] = kind
    ev_begin[pos] = begin
    ev_value[pos] = value
    ev_thr[pos] = threshold
    return pos + 1


@nb.njit(cache=True)
def _check(codes, ts, chans, start, cfg, state, ev, pos):
    """Run the telemetry rules over rows ``start..`` in order; stop when ``ev`` may overflow.

    ``chans`` holds 4 currents (A), 4 temperatures (°C) and vibration x, y, z (m/s²); NaN marks
    a channel absent from a reading. Returns the next row and the number of events written.
    """
    active, last_ts, anchor_ts, anchor_t, last_rate, prev, run = state
    overload_a = cfg[0]
    max_temp = cfg[1]
    rise = cfg[2]
    window = np.int64(cfg[3])
    ratio_max = cfg[4]
    min_current = cfg[5]
    stuck = cfg[6]
    stale = np.int64(cfg[7])
    thresholds = np.array([cfg[0], cfg[1], cfg[2], cfg[4], cfg[6]])
    cap = ev[0].shape[0]
    now = np.zeros(5, np.bool_)
    value = np.zeros(5)
    i = start
    n = ts.shape[0]
    while i < n:
        if pos + _MAX_EVENTS_PER_ROW > cap:
            return i, pos
        d = codes[i]
        t = ts[i]
        lt = last_ts[d]
        if lt != _EMPTY:
            if t - lt > stale and not active[d, _STALE]:
                pos = _event(ev, pos, d, lt + stale, _STALE, True, cfg[7], cfg[7])
                active[d, _STALE] = True
            if active[d, _STALE]:
                pos = _event(ev, pos, d, max(t, lt + stale), _STALE, False, t - lt, cfg[7])
                active[d, _STALE] = False
        last_ts[d] = max(lt, t)

        n_i = 0
        biggest = 0.0
        total = 0.0
        lo = 0.0
        hi = 0.0
        over = False
        for c in range(4):
            x = chans[c][i]
            if np.isnan(x):
                continue
            a = abs(x)
            if n_i == 0:
                biggest = a
                lo = a
                hi = a
            biggest = max(biggest, a)
            lo = min(lo, a)
            hi = max(hi, a)
            total += a
            over = over or a > overload_a
            n_i += 1
        now[0] = over
        value[0] = biggest

        n_t = 0
        hottest = 0.0
        hot = False
        for c in range(4, 8):
            x = chans[c][i]
            if np.isnan(x):
                continue
            if n_t == 0 or x > hottest:
                hottest = x
            hot = hot or x >= max_temp
            n_t += 1
        now[1] = hot
        value[1] = hottest

        now[2] = active[d, 2]
        if n_t > 0:
            if anchor_ts[d] == _EMPTY:
                anchor_ts[d] = t
                anchor_t[d] = hottest
                now[2] = False
            elif t - anchor_ts[d] >= window:
                last_rate[d] = (hottest - anchor_t[d]) * 1000.0 / (t - anchor_ts[d])
                now[2] = last_rate[d] > rise
                anchor_ts[d] = t
                anchor_t[d] = hottest
        value[2] = last_rate[d]

        mean = total / n_i if n_i >= 2 else 0.0
        value[3] = (hi - lo) / mean if mean != 0.0 else 0.0
        now[3] = n_i >= 2 and mean >= min_current and value[3] > ratio_max

        longest = 0
        for c in range(11):
            x = chans[c][i]
            if np.isnan(x):
                run[d, c] = 0
                continue
            run[d, c] = run[d, c] + 1 if run[d, c] > 0 and x == prev[d, c] else 1
            prev[d, c] = x
            longest = max(longest, run[d, c])
        now[4] = longest >= stuck
        value[4] = longest

        for r in range(5):
            if now[r] != active[d, r]:
                pos = _event(ev, pos, d, t, r, now[r], value[r], thresholds[r])
                active[d, r] = now[r]
        i += 1
    return i, pos


@nb.njit(cache=True)
def _device_flags(codes, ts, estop, door_open, active, ev, pos):
    """E-stop and door state from device safety messages (flag -1 = not given)."""
    for i in range(ts.shape[0]):
        d = codes[i]
        for kind in (_ESTOP, _DOOR):
            flag = estop[i] if kind == _ESTOP else door_open[i]
            if flag >= 0 and (flag == 1) != active[d, kind]:
                active[d, kind] = flag == 1
                pos = _event(ev, pos, d, ts[i], kind, flag == 1, np.float64(flag), np.nan)
    return pos


@nb.njit(cache=True)
def _per_device_ordered(codes, ts, n_devices):
    last = np.full(n_devices, _EMPTY, np.int64)
    for i in range(ts.shape[0]):
        if ts[i] < last[codes[i]]:
            return False
        last[codes[i]] = ts[i]
    return True


def _column(table: pa.Table, name: str) -> np.ndarray:
    if name not in table.column_names:
        return np.full(table.num_rows, np.nan)
    return pc.cast(table[name], pa.float64()).to_numpy(zero_copy_only=False)


def _flag(table: pa.Table, name: str, invert: bool = False) -> np.ndarray:
    column = table[name]
    if invert:
        column = pc.invert(column)
    return pc.fill_null(pc.cast(column, pa.int8()), -1).to_numpy(zero_copy_only=False)


class SafetyChecker:
    """Runs the safety rules per device over batches of telemetry and device safety messages.

    Each batch is evaluated in event-time order per device (sorted when it is not); a reading
    older than one already evaluated in an earlier batch is evaluated when it arrives.

    Parameters
    ----------
    config : SafetyConfig, optional
        Thresholds (defaults: ``docs/safety-rules.md``).

    Examples
    --------
    >>> import pyarrow as pa
    >>> checker = SafetyChecker()
    >>> ts = pa.array([0, 100, 200], pa.timestamp("ms", tz="UTC"))
    >>> batch = pa.table({"device_id": ["m1"] * 3, "ts": ts, "current_1": [9.0, 10.5, 10.0]})
    >>> events = checker.process(batch)
    >>> list(zip(events["kind"].to_pylist(), events["state"].to_pylist()))
    [('overload', 'begin'), ('overload', 'end')]
    >>> checker.active()
    []
    """

    def __init__(self, config: SafetyConfig | None = None) -> None:
        self.config = config or SafetyConfig()
        c = self.config
        self._cfg = np.array(
            [
                c.overload_current_a,
                c.max_temperature_c,
                c.temp_rise_c_per_s,
                c.temp_rise_window_ms,
                c.imbalance_ratio,
                c.imbalance_min_current_a,
                c.stuck_samples,
                c.stale_after_ms,
            ],
            np.float64,
        )
        self.devices = DeviceCodes()
        self.watermark_ms: int | None = None
        self._state = self._new_state(0)

    @staticmethod
    def _new_state(n: int) -> tuple[np.ndarray, ...]:
        return (
            np.zeros((n, len(KINDS)), np.bool_),
            np.full(n, _EMPTY, np.int64),
            np.full(n, _EMPTY, np.int64),
            np.zeros(n),
            np.zeros(n),
            np.zeros((n, 11)),
            np.zeros((n, 11), np.int64),
        )

    def _grow(self) -> None:
        have = self._state[0].shape[0]
        need = len(self.devices)
        if need <= have:
            return
        new = self._new_state(max(need, 2 * have))
        for old, fresh in zip(self._state, new, strict=True):
            fresh[:have] = old
        self._state = new

    @staticmethod
    def _buffers(cap: int) -> tuple[np.ndarray, ...]:
        return (
            np.empty(cap, np.int32),
            np.empty(cap, np.int64),
            np.empty(cap, np.int8),
            np.empty(cap, np.bool_),
            np.empty(cap, np.float64),
            np.empty(cap, np.float64),
        )

    def check_arrays(
        self, device_codes: np.ndarray, ts_ms: np.ndarray, channels: tuple[np.ndarray, ...]
    ) -> tuple[np.ndarray, ...]:
        """Run the telemetry rules on arrays; the fast path under :meth:`process`.

        Parameters
        ----------
        device_codes : ndarray of int32
            Codes from :attr:`devices` (``devices.encode``).
        ts_ms : ndarray of int64
            Event time, epoch ms.
        channels : tuple of 11 float64 arrays
            current_1..4 (A), temp_1..4 (°C), vib_x, vib_y, vib_z (m/s²); NaN = absent.

        Returns
        -------
        tuple of ndarray
            Events as ``(device code, ts ms, kind index into KINDS, begin, value, threshold)``.
        """
        codes = np.ascontiguousarray(device_codes, np.int32)
        ts = np.ascontiguousarray(ts_ms, np.int64)
        chans = tuple(readonly(np.ascontiguousarray(c, np.float64)) for c in channels)
        self._grow()
        if not _per_device_ordered(codes, ts, len(self.devices)):
            order = np.argsort(ts, kind="stable")
            codes, ts = codes[order], ts[order]
            chans = tuple(readonly(c[order]) for c in chans)
        parts = []
        start, cap = 0, max(256, len(ts) // 64)
        while start < len(ts):
            ev = self._buffers(cap)
            start, pos = _check(codes, ts, chans, start, self._cfg, self._state, ev, 0)
            parts.append(tuple(a[:pos] for a in ev))
        if len(ts):
            high = int(ts.max())
            self.watermark_ms = high if self.watermark_ms is None else max(high, self.watermark_ms)
        if not parts:
            return tuple(a[:0] for a in self._buffers(0))
        return tuple(np.concatenate(column) for column in zip(*parts, strict=True))

    def process(
        self,
        telemetry: pa.Table,
        device_safety: pa.Table | None = None,
        now_ms: int | None = None,
    ) -> pa.Table:
        """Evaluate one batch; return the state changes as ``safety_events`` rows, by time.

        Parameters
        ----------
        telemetry : pyarrow.Table
            ``device_id``, ``ts`` and the telemetry channels (absent columns count as absent
            channels).
        device_safety : pyarrow.Table, optional
            Device safety messages: ``device_id``, ``ts``, ``emergency_stop``, ``door_closed``.
        now_ms : int, optional
            Processing clock for ``stale`` (epoch ms); default: the watermark.
        """
        parts = []
        if telemetry.num_rows:
            codes = self.devices.encode(telemetry["device_id"])
            ts = pc.cast(telemetry["ts"], pa.int64()).to_numpy()
            names = (*_CURRENTS, *_TEMPS, *_AXES)
            parts.append(self.check_arrays(codes, ts, tuple(_column(telemetry, c) for c in names)))
        if device_safety is not None and device_safety.num_rows:
            codes = self.devices.encode(device_safety["device_id"])
            self._grow()
            ts = pc.cast(device_safety["ts"], pa.int64()).to_numpy()
            order = np.argsort(ts, kind="stable")
            ev = self._buffers(2 * len(ts))
            pos = _device_flags(
                codes[order],
                ts[order],
                _flag(device_safety, "emergency_stop")[order],
                _flag(device_safety, "door_closed", invert=True)[order],
                self._state[0],
                ev,
                0,
            )
            parts.append(tuple(a[:pos] for a in ev))
        parts.append(self._check_stale(now_ms))
        return self._table(parts)

    def _check_stale(self, now_ms: int | None) -> tuple[np.ndarray, ...]:
        clock = max(now_ms or _EMPTY, self.watermark_ms or _EMPTY)
        active, last_ts = self._state[0], self._state[1]
        n = len(self.devices)
        stale_after = self.config.stale_after_ms
        known = last_ts[:n] != _EMPTY
        silence = clock - np.where(known, last_ts[:n], clock)
        silent = known & ~active[:n, _STALE] & (silence > stale_after)
        codes = np.flatnonzero(silent)
        active[codes, _STALE] = True
        k = len(codes)
        return (
            codes.astype(np.int32),
            last_ts[codes] + stale_after,
            np.full(k, _STALE, np.int8),
            np.ones(k, np.bool_),
            np.full(k, float(stale_after)),
            np.full(k, float(stale_after)),
        )

    def _table(self, parts: list[tuple[np.ndarray, ...]]) -> pa.Table:
        dev, ts, kind, begin, value, threshold = (
            np.concatenate(column) for column in zip(*parts, strict=True)
        )
        order = np.argsort(ts, kind="stable")
        ts_arr = pa.array(ts[order]).cast(UTC_MS)
        table = pa.table(
            {
                "device_id": self.devices.decode(dev[order]),
                "ts": ts_arr,
                "kind": pa.array(np.array(KINDS, dtype=object)[kind[order]], pa.string()),
                "state": pa.array(np.where(begin[order], "begin", "end").astype(object)),
                "value": pa.array(value[order], from_pandas=True),
                "threshold": pa.array(threshold[order], from_pandas=True),
                "date": pc.cast(ts_arr, pa.date32()),
            }
        )
        return table.cast(SAFETY_EVENTS_SCHEMA)

    def active(self) -> list[tuple[str, str]]:
        """The ``(device_id, kind)`` pairs whose state is active now, sorted."""
        n = len(self.devices)
        devices, kinds = np.nonzero(self._state[0][:n])
        names = self.devices.names.to_pylist()
        return sorted((names[d], KINDS[k]) for d, k in zip(devices, kinds, strict=True))
