"""Windowed features of each unit's history up to every row (causal: no look-ahead).

Rows are (unit, time) observations of condition-normalised sensors. For every row and sensor the
transformer computes statistics of that unit's readings up to and including the row: the last value,
the mean and least-squares slope over the last ``window`` rows (and over ``long_window``), the
exponentially weighted means with the given spans, the expanding mean, and the drift of the recent
mean from the unit's own early-life baseline (its first ``baseline`` rows), which removes the
unit-to-unit spread of the initial state. Rows need not be sorted; each unit's rows are ordered by
time. Sums run on per-unit cumulative sums, so the cost is linear in the number of rows.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

__all__ = ["WindowFeatures"]


class WindowFeatures(TransformerMixin, BaseEstimator):
    """Per-row features of each unit's sensor history.

    Parameters
    ----------
    sensors : sequence of str
        Sensor columns (already normalised, e.g. by :class:`ConditionNormalizer`).
    unit_col, time_col : str
        Columns naming the unit (engine, device) and its time index (cycle, window number).
    window : int
        Rows in the short window (mean and slope); 30 cycles is the C-MAPSS habit.
    long_window : int or None
        Rows in a second, longer slope window; None leaves it out.
    spans : sequence of int
        Spans (rows) of exponentially weighted means; empty leaves them out.
    baseline : int or None
        Early-life rows whose mean is each unit's baseline (drift feature); None leaves it out.
    expanding : bool
        Add the mean of the unit's whole history so far.
    include_time : bool
        Add the time index itself (time in service).

    Examples
    --------
    >>> frame = pd.DataFrame({"unit": [1, 1, 1], "cycle": [1, 2, 3], "s": [0.0, 1.0, 2.0]})
    >>> feats = WindowFeatures(["s"], window=2, long_window=None, spans=(), baseline=None,
    ...                        expanding=False)
    >>> feats.fit_transform(frame).tolist()
    [[0.0, 0.0, 0.0, 1.0], [1.0, 0.5, 1.0, 2.0], [2.0, 1.5, 1.0, 3.0]]
    >>> feats.get_feature_names_out().tolist()
    ['s_last', 's_mean', 's_slope', 'cycle']
    """

    def __init__(
        self,
        sensors: Sequence[str] = (),
        *,
        unit_col: str = "unit",
        time_col: str = "cycle",
        window: int = 30,
        long_window: int | None = 60,
        spans: Sequence[int] = (10, 40),
        baseline: int | None = 30,
        expanding: bool = True,
        include_time: bool = True,
    ) -> None:
        self.sensors = sensors
        self.unit_col = unit_col
        self.time_col = time_col
        self.window = window
        self.long_window = long_window
        self.spans = spans
        self.baseline = baseline
        self.expanding = expanding
        self.include_time = include_time

    def fit(self, X: pd.DataFrame, y: object = None) -> WindowFeatures:
        """Check the parameters and columns; the features learn nothing from data."""
        self._check(X)
        self.n_features_out_ = len(self.get_feature_names_out())
        return self

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        """Names of the output columns, sensor by sensor, then the time index."""
        stats = ["last", "mean", "slope"]
        if self.long_window:
            stats.append(f"slope{self.long_window}")
        stats += [f"ewm{span}" for span in self.spans]
        if self.expanding:
            stats.append("cummean")
        if self.baseline:
            stats.append("drift")
        names = [f"{sensor}_{stat}" for sensor in self.sensors for stat in stats]
        if self.include_time:
            names.append(self.time_col)
        return np.asarray(names, dtype=object)

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        """Features of every row of ``X``, in the rows' order: shape (len(X), n_features_out_)."""
        self._check(X)
        order = np.lexsort((X[self.time_col].to_numpy(), X[self.unit_col].to_numpy()))
        units = X[self.unit_col].to_numpy()[order]
        values = X[list(self.sensors)].to_numpy(dtype=float)[order]
        start = _segment_starts(units)
        columns = [values]
        mean, slope = _window_stats(values, start, self.window)
        columns += [mean, slope]
        if self.long_window:
            columns.append(_window_stats(values, start, self.long_window)[1])
        frame = pd.DataFrame(values)
        groups = frame.groupby(start, sort=False)
        for span in self.spans:
            columns.append(groups.ewm(span=span).mean().to_numpy())
        if self.expanding:
            columns.append(_window_stats(values, start, len(values) + 1)[0])
        if self.baseline:
            position = np.arange(len(values)) - start
            early = np.where((position < self.baseline)[:, None], values, 0.0)
            base = _cumulative(early, start) / np.minimum(position + 1, self.baseline)[:, None]
            columns.append(_window_stats(values, start, min(self.window, 10))[0] - base)
        n_stats = len(columns)
        stacked = np.stack(columns, axis=2).reshape(len(values), len(self.sensors) * n_stats)
        if self.include_time:
            time = X[self.time_col].to_numpy(dtype=float)[order]
            stacked = np.column_stack([stacked, time])
        out = np.empty_like(stacked)
        out[order] = stacked
        return out

    def _check(self, X: pd.DataFrame) -> None:
        if not isinstance(X, pd.DataFrame):
            raise TypeError(f"X: expected a pandas DataFrame, got {type(X).__name__}")
        if not self.sensors:
            raise ValueError("sensors: name at least one sensor column")
        if self.window < 2 or (self.long_window is not None and self.long_window < 2):
            raise ValueError("window/long_window: need at least 2 rows for a slope")
        missing = [c for c in (self.unit_col, self.time_col, *self.sensors) if c not in X.columns]
        if missing:
            raise ValueError(f"X: missing column(s) {', '.join(missing)}")


def _segment_starts(units: np.ndarray) -> np.ndarray:
    """For each row of unit-sorted data, the index of its unit's first row."""
    n = len(units)
    is_start = np.r_[True, units[1:] != units[:-1]] if n else np.zeros(0, dtype=bool)
    return np.maximum.accumulate(np.where(is_start, np.arange(n), 0))


def _cumulative(values: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Per-unit running sum of ``values`` (rows sorted by unit), restarting at each unit.

    Each unit's sums depend on its own rows only, so a unit's features are the same bit for bit
    whatever other units share the frame (a live scorer stacks devices as they come).
    """
    frame = pd.DataFrame(values).groupby(start, sort=False)
    return frame.cumsum(skipna=False).to_numpy(dtype=float)


def _window_stats(values: np.ndarray, start: np.ndarray, window: int) -> tuple[np.ndarray, ...]:
    """Mean and least-squares slope (per row) over each row's last ``window`` rows of its unit."""
    n = len(values)
    index = np.arange(n)
    lo = np.maximum(index + 1 - window, start)
    count = (index + 1 - lo).astype(float)[:, None]
    t = (index - start).astype(float)[:, None]
    inside = (lo > start)[:, None]
    sums = [_cumulative(a, start) for a in (values, values * t, t, t * t)]
    s_x, s_tx, s_t, s_tt = (c - np.where(inside, c[np.maximum(lo - 1, 0)], 0.0) for c in sums)
    mean = s_x / count
    var_t = s_tt / count - (s_t / count) ** 2
    cov = s_tx / count - (s_t / count) * mean
    slope = np.divide(cov, var_t, out=np.zeros_like(cov), where=var_t > 1e-12)
    return mean, slope
