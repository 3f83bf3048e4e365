"""Plain-Python reference twins of the numba kernels, used only by tests.

Each twin is written for clarity, one reading at a time, with exact sums (``math.fsum``) and
two-pass statistics, so the kernels can be held equal to it on random input.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

__all__ = [
    "ReferenceAggregator",
    "reference_moments",
    "reference_rolling",
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
        "skew": m3 / m2**1.5 if m2 > 0 else nan,
        "kurtosis": m4 / (m2 * m2) - 3.0 if m2 > 0 else nan,
        "crest": max(abs(x) for x in xs) / rms if rms > 0 else nan,
    }
