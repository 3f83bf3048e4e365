"""When does a unit's degradation start? A one-sided CUSUM on its health index.

Each unit's first ``baseline`` rows set its healthy level and are not monitored; the noise scale
is pooled over units when fitting. CUSUM assumes independent noise: feed it an unsmoothed index
(``HealthIndex(span=1)``), as smoothing makes noise look like drift.

The CUSUM ``S_t = max(0, S_{t−1} + (μ₀ − x_t)/σ − k)`` grows while the index stays
below the healthy level; the alarm is the first time ``S_t > h``, and the onset is the last time
``S`` was 0 before the alarm (the usual CUSUM change-point estimate).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

__all__ = ["DegradationOnset"]


class DegradationOnset(BaseEstimator):
    """Detect the onset of degradation per unit from a falling health index.

    Parameters
    ----------
    baseline : int
        Leading rows of each unit taken as healthy.
    drift : float
        CUSUM allowance ``k``, in noise standard deviations.
    threshold : float
        CUSUM decision level ``h``, in noise standard deviations.
    value_col, unit_col, time_col : str
        Health-index, unit and time columns of ``X``.

    Attributes
    ----------
    sigma_ : float
        Pooled noise standard deviation of the index in the baseline rows.

    Examples
    --------
    >>> t = np.arange(200)
    >>> noise = np.random.default_rng(0).normal(0, 0.02, 200)
    >>> hi = np.where(t < 120, 1.0, 1.0 - (t - 120) / 80) + noise
    >>> frame = pd.DataFrame({"unit": 1, "cycle": t, "health": hi})
    >>> found = DegradationOnset().fit(frame).detect(frame)
    >>> 110 <= found["onset"].item() <= 130
    True
    """

    def __init__(
        self,
        *,
        baseline: int = 30,
        drift: float = 0.5,
        threshold: float = 10.0,
        value_col: str = "health",
        unit_col: str = "unit",
        time_col: str = "cycle",
    ) -> None:
        self.baseline = baseline
        self.drift = drift
        self.threshold = threshold
        self.value_col = value_col
        self.unit_col = unit_col
        self.time_col = time_col

    def fit(self, X: pd.DataFrame, y: object = None) -> DegradationOnset:
        """Pool the index's noise over every unit's baseline rows."""
        spreads = [np.std(values[: self.baseline]) for _, _, values in self._units(X)]
        spreads = [s for s in spreads if s > 0]
        self.sigma_ = float(np.median(spreads)) if spreads else 1.0
        return self

    def detect(self, X: pd.DataFrame) -> pd.DataFrame:
        """Per unit: ``onset`` and ``alarm`` times (NaN when no degradation is detected)."""
        check_is_fitted(self, "sigma_")
        rows = []
        for unit, times, values in self._units(X):
            onset, alarm = self._cusum(times, values)
            rows.append({self.unit_col: unit, "onset": onset, "alarm": alarm})
        return pd.DataFrame(rows, columns=[self.unit_col, "onset", "alarm"])

    def _cusum(self, times: np.ndarray, values: np.ndarray) -> tuple[float, float]:
        level = values[: self.baseline].mean()
        score, last_zero = 0.0, times[min(self.baseline, len(times)) - 1]
        for t, x in zip(times[self.baseline :], values[self.baseline :], strict=True):
            score = max(0.0, score + (level - x) / self.sigma_ - self.drift)
            if score == 0.0:
                last_zero = t
            elif score > self.threshold:
                return float(last_zero), float(t)
        return float("nan"), float("nan")

    def _units(self, X: pd.DataFrame) -> list[tuple[object, np.ndarray, np.ndarray]]:
        missing = [c for c in (self.unit_col, self.time_col, self.value_col) if c not in X.columns]
        if missing:
            raise ValueError(f"X: missing column(s) {', '.join(missing)}")
        if self.baseline < 2:
            raise ValueError(f"baseline: need at least 2 rows, got {self.baseline}")
        ordered = X.sort_values([self.unit_col, self.time_col])
        return [
            (unit, g[self.time_col].to_numpy(dtype=float), g[self.value_col].to_numpy(dtype=float))
            for unit, g in ordered.groupby(self.unit_col, sort=True)
        ]
