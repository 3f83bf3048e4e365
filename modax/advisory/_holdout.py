"""How a remaining-life model does on devices it did not learn from: the figures registered
with it.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds

from modax.lake import Lake
from modax.models.wear import fit_remaining_life, rul_windows
from modax.models.wear.live import TELEMETRY_COLUMNS

__all__ = ["remaining_life_holdout"]

_TRUTH = ["device_id", "ts", "damage", "failed", "rul_s", "rul_exact"]


def _selection(devices: list[str], start: datetime | None, end: datetime | None) -> ds.Expression:
    condition = ds.field("device_id").isin(devices)
    if start is not None:
        condition &= ds.field("ts") >= pa.scalar(start, pa.timestamp("ms", tz="UTC"))
    if end is not None:
        condition &= ds.field("ts") < pa.scalar(end, pa.timestamp("ms", tz="UTC"))
    return condition


def remaining_life_holdout(
    lake: Lake,
    model: str,
    devices: list[str],
    *,
    start: datetime | None = None,
    end: datetime | None = None,
) -> dict[str, float]:
    """Fit ``model`` on every other device (sorted), score the rest: hours and coverage.

    Returns ``holdout_rmse_h`` (median estimate vs the simulator's remaining life at every
    complete window of the held-out devices: exact where the motor failed within the history,
    else its projection ``(1 − D)/rate``; ``holdout_exact_share`` says how much was exact), and
    for models with an interval ``holdout_coverage_80`` (share of windows whose truth lies inside
    the 80 % interval) and ``holdout_width_h`` (its mean width); ``holdout_windows`` counts
    them. Empty when fewer than two devices or no window is held out.
    """
    devices = sorted(devices)
    train, test = devices[0::2], devices[1::2]
    if not test:
        return {}
    where = _selection(test, start, end)
    telemetry = lake.read("telemetry", columns=list(TELEMETRY_COLUMNS), filter=where)
    truth = lake.read("remaining_life", columns=_TRUTH, filter=where)
    frame = rul_windows(telemetry, truth)
    if frame.empty:
        return {}
    estimator = fit_remaining_life(lake, devices=train, start=start, end=end, model=model)
    hours = frame["rul_s"].to_numpy() / 3600.0
    metrics = {
        "holdout_windows": float(len(frame)),
        "holdout_exact_share": float(frame["rul_exact"].to_numpy(dtype=bool).mean()),
    }
    if hasattr(estimator, "predict_quantiles"):
        levels = np.asarray(estimator.quantiles, dtype=float)
        values = estimator.predict_quantiles(frame)
        low, median, high = (
            values[:, int(np.argmin(levels))],
            values[:, int(np.argmin(np.abs(levels - 0.5)))],
            values[:, int(np.argmax(levels))],
        )
        metrics["holdout_coverage_80"] = float(np.mean((hours >= low) & (hours <= high)))
        metrics["holdout_width_h"] = float(np.mean(high - low))
    else:
        median = estimator.predict(frame)
    metrics["holdout_rmse_h"] = float(np.sqrt(np.mean((median - hours) ** 2)))
    return metrics
