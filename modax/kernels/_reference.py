"""Plain-Python reference twins of the numba kernels, used only by tests.

Each twin is written for clarity, one reading at a time, with exact sums (``math.fsum``) and
two-pass statistics, so the kernels can be held equal to it on random input.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from modax.kernels.safety import KINDS, SafetyConfig

__all__ = [
    "ReferenceAggregator",
    "ReferenceSafety",
    "reference_moments",
    "reference_rolling",
    "reference_slope",
    "window_stats",
]


def window_stats(values: Sequence[float]) -> dict[str, float]:
    """mean, sample std, min, max, rms and p2p of the non-NaN ``values`` (NaN when undefined)."""
    xs = [x for x in values if not math.isnan(x)]
    nan = float("nan")
    if not xs:
        return dict.fromkeys(("mean", "std", "min", "max", "rms", "p2p"), nan)
    n = len(xs)
    mean = math.fsum(xs) / n
    std = math.sqrt(math.fsum((x - mean) ** 2 for x in xs) / (n - 1)) if n > 1 else nan
    return {
        "mean": mean,
        "std": std,
        "min": min(xs),
        "max": max(xs),
        "rms": math.sqrt(math.fsum(x * x for x in xs) / n),
        "p2p": max(xs) - min(xs),
    }


@dataclass
class _Device:
    watermark: int | None = None
    windows: dict[int, list[Sequence[float]]] = field(default_factory=dict)


class ReferenceAggregator:
    """Twin of :class:`modax.kernels.aggregate.WindowAggregator`: same windows, same lateness.

    ``process`` takes rows ``(device, ts_ms, values)`` and returns closed windows as dicts
    ``{"device", "window_start", "count", "<channel>_<stat>"...}`` in emission order.
    """

    def __init__(self, width_ms: int, allowed_lateness_ms: int, channels: Sequence[str]) -> None:
        self.width_ms = width_ms
        self.allowed_lateness_ms = allowed_lateness_ms
        self.channels = tuple(channels)
        self.devices: dict[object, _Device] = {}
        self.late: list[int] = []
        self._row = 0

    def _deadline(self, w: int) -> int:
        return (w + 1) * self.width_ms + self.allowed_lateness_ms

    def _emit(self, device: object, w: int, rows: list[Sequence[float]]) -> dict[str, object]:
        out: dict[str, object] = {
            "device": device,
            "window_start": w * self.width_ms,
            "count": len(rows),
        }
        for c, channel in enumerate(self.channels):
            for stat, value in window_stats([r[c] for r in rows]).items():
                out[f"{channel}_{stat}"] = value
        return out

    def process(self, rows: Iterable[tuple[object, int, Sequence[float]]]) -> list[dict]:
        """Feed rows in order; return the windows closed, oldest first per device."""
        closed = []
        for device, ts, values in rows:
            state = self.devices.setdefault(device, _Device())
            w = ts // self.width_ms
            if state.watermark is not None and self._deadline(w) <= state.watermark:
                self.late.append(self._row)
            else:
                state.watermark = ts if state.watermark is None else max(state.watermark, ts)
                for old in sorted(state.windows):
                    if self._deadline(old) <= state.watermark:
                        closed.append(self._emit(device, old, state.windows.pop(old)))
                state.windows.setdefault(w, []).append(values)
            self._row += 1
        return closed

    def flush(self) -> list[dict]:
        """Every window still open, per device in order of first sight, oldest first."""
        closed = []
        for device, state in self.devices.items():
            for w in sorted(state.windows):
                closed.append(self._emit(device, w, state.windows.pop(w)))
        return closed


def reference_rolling(
    codes: Sequence[int], values: Sequence[float], n_samples: int
) -> tuple[list[float], list[float]]:
    """Twin of :class:`modax.kernels.aggregate.Rolling`: mean and std of each device's last N."""
    history: dict[int, list[float]] = {}
    means, stds = [], []
    nan = float("nan")
    for code, x in zip(codes, values, strict=True):
        last = history.setdefault(code, [])
        last.append(x)
        del last[:-n_samples]
        if len(last) < n_samples:
            means.append(nan)
            stds.append(nan)
            continue
        mean = math.fsum(last) / n_samples
        means.append(mean)
        ss = math.fsum((v - mean) ** 2 for v in last)
        stds.append(math.sqrt(ss / (n_samples - 1)) if n_samples > 1 else nan)
    return means, stds


def reference_moments(values: Sequence[float]) -> dict[str, float]:
    """Skewness, excess kurtosis and crest factor of the non-NaN ``values`` (population moments).

    NaN when undefined (no values, or zero variance for skewness and kurtosis, zero RMS for crest).
    """
    xs = [x for x in values if not math.isnan(x)]
    nan = float("nan")
    if not xs:
        return {"skew": nan, "kurtosis": nan, "crest": nan}
    n = len(xs)
    mean = math.fsum(xs) / n
    m2 = math.fsum((x - mean) ** 2 for x in xs) / n
    m3 = math.fsum((x - mean) ** 3 for x in xs) / n
    m4 = math.fsum((x - mean) ** 4 for x in xs) / n
    rms = math.sqrt(math.fsum(x * x for x in xs) / n)
    return {
        "skew": m3 / m2**1.5 if m2**1.5 > 0 else nan,
        "kurtosis": m4 / (m2 * m2) - 3.0 if m2 * m2 > 0 else nan,
        "crest": max(abs(x) for x in xs) / rms if rms > 0 else nan,
    }


def reference_slope(ts_ms: Sequence[int], values: Sequence[float]) -> float:
    """Least-squares slope of the non-NaN ``values`` over time, per second (NaN if undefined)."""
    pairs = [
        ((t - ts_ms[0]) / 1000.0, x)
        for t, x in zip(ts_ms, values, strict=True)
        if not math.isnan(x)
    ]
    if len(pairs) < 2:
        return float("nan")
    t_mean = math.fsum(t for t, _ in pairs) / len(pairs)
    x_mean = math.fsum(x for _, x in pairs) / len(pairs)
    stt = math.fsum((t - t_mean) ** 2 for t, _ in pairs)
    stx = math.fsum((t - t_mean) * (x - x_mean) for t, x in pairs)
    return stx / stt if stt > 0 else float("nan")


#: One safety event: ``(device, ts_ms, kind, "begin" | "end", value, threshold)``.
Event = tuple[object, int, str, str, float, float]


@dataclass
class _Monitor:
    active: dict[str, bool] = field(default_factory=lambda: dict.fromkeys(KINDS, False))
    last_ts: int | None = None
    anchor: tuple[int, float] | None = None
    last_rate: float = 0.0
    previous: dict[str, float] = field(default_factory=dict)
    runs: dict[str, int] = field(default_factory=dict)


class ReferenceSafety:
    """Twin of :class:`modax.kernels.safety.SafetyChecker`, as ``docs/safety-rules.md`` reads.

    Feed readings of each device in event-time order with :meth:`reading`; each call returns the
    events (state changes) it caused.
    """

    def __init__(self, config: SafetyConfig | None = None) -> None:
        self.config = config or SafetyConfig()
        self.monitors: dict[object, _Monitor] = {}

    def flags(self, device: object) -> dict[str, bool]:
        """Active state of every kind for ``device``."""
        return dict(self.monitors.setdefault(device, _Monitor()).active)

    def _change(self, device: object, ts: int, kind: str, now: bool, value: float) -> list[Event]:
        monitor = self.monitors[device]
        if monitor.active[kind] == now:
            return []
        monitor.active[kind] = now
        state = "begin" if now else "end"
        return [(device, ts, kind, state, value, self.config.threshold(kind))]

    def reading(
        self,
        device: object,
        ts: int,
        currents: Sequence[float],
        temperatures: Sequence[float],
        vibration: Sequence[float],
    ) -> list[Event]:
        """One telemetry reading: currents (A), temperatures (°C), vibration x, y, z (m/s²)."""
        cfg = self.config
        m = self.monitors.setdefault(device, _Monitor())
        events: list[Event] = []
        stale = cfg.stale_after_ms
        if m.last_ts is not None:
            if ts - m.last_ts > stale:
                events += self._change(device, m.last_ts + stale, "stale", True, float(stale))
            if m.active["stale"]:
                end = max(ts, m.last_ts + stale)
                events += self._change(device, end, "stale", False, float(ts - m.last_ts))
        m.last_ts = ts if m.last_ts is None else max(m.last_ts, ts)

        amps = [abs(i) for i in currents]
        now: dict[str, bool] = {}
        value: dict[str, float] = {}
        now["overload"] = any(a > cfg.overload_current_a for a in amps)
        value["overload"] = max(amps, default=0.0)
        now["overtemp"] = any(t >= cfg.max_temperature_c for t in temperatures)
        value["overtemp"] = max(temperatures, default=0.0)

        now["temp_rise"] = m.active["temp_rise"]
        if temperatures:
            hottest = max(temperatures)
            if m.anchor is None:
                m.anchor = (ts, hottest)
                now["temp_rise"] = False
            elif ts - m.anchor[0] >= cfg.temp_rise_window_ms:
                m.last_rate = (hottest - m.anchor[1]) * 1000.0 / (ts - m.anchor[0])
                now["temp_rise"] = m.last_rate > cfg.temp_rise_c_per_s
                m.anchor = (ts, hottest)
        value["temp_rise"] = m.last_rate

        mean = math.fsum(amps) / len(amps) if len(amps) >= 2 else 0.0
        ratio = (max(amps) - min(amps)) / mean if mean != 0.0 else 0.0
        now["current_imbalance"] = (
            len(amps) >= 2 and mean >= cfg.imbalance_min_current_a and ratio > cfg.imbalance_ratio
        )
        value["current_imbalance"] = ratio

        channels = {f"current_{k}": x for k, x in enumerate(currents)}
        channels |= {f"temp_{k}": x for k, x in enumerate(temperatures)}
        channels |= dict(zip(("x", "y", "z"), vibration, strict=True))
        for name in dict.fromkeys([*m.runs, *channels]):
            if name not in channels:
                m.runs[name] = 0
            elif m.runs.get(name, 0) > 0 and channels[name] == m.previous[name]:
                m.runs[name] += 1
            else:
                m.runs[name] = 1
            if name in channels:
                m.previous[name] = channels[name]
        longest = max(m.runs.values(), default=0)
        now["sensor_stuck"] = longest >= cfg.stuck_samples
        value["sensor_stuck"] = float(longest)

        for kind in KINDS[:5]:
            events += self._change(device, ts, kind, now[kind], value[kind])
        return events

    def device_message(
        self, device: object, ts: int, emergency_stop: bool | None, door_closed: bool | None
    ) -> list[Event]:
        """One device safety message (``None`` = flag not given)."""
        self.monitors.setdefault(device, _Monitor())
        events: list[Event] = []
        if emergency_stop is not None:
            events += self._change(device, ts, "emergency_stop", emergency_stop, emergency_stop)
        if door_closed is not None:
            events += self._change(device, ts, "door_open", not door_closed, not door_closed)
        return events

    def check_stale(self, clock_ms: int) -> list[Event]:
        """``stale`` begins for every device silent for longer than ``stale_after_ms``."""
        stale = self.config.stale_after_ms
        events: list[Event] = []
        for device, m in self.monitors.items():
            if m.last_ts is not None and clock_ms - m.last_ts > stale:
                events += self._change(device, m.last_ts + stale, "stale", True, float(stale))
        return events
