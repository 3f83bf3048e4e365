"""A health index per unit and time: 1 while healthy, falling to 0 at failure.

Sensors are normalised per operating condition, smoothed per unit with an exponentially weighted
mean, and combined linearly into the index by least squares against the remaining life scaled to
[0, 1] (``min(RUL, cap) / cap``). A single, smooth number per device is what a dashboard plots and
what :class:`DegradationOnset` watches.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.linear_model import Ridge
from sklearn.utils.validation import check_is_fitted

from modax.models.wear.conditions import ConditionNormalizer
from modax.models.wear.features import WindowFeatures
from modax.models.wear.target import DEFAULT_CAP, piecewise_linear_rul

__all__ = ["HealthIndex"]


class HealthIndex(RegressorMixin, BaseEstimator):
    """Learn a linear 1 → 0 health index from run-to-failure histories.

    Parameters
    ----------
    sensors : sequence of str
        Sensor columns combined into the index.
    settings : sequence of str
        Operating-setting columns (conditions); empty means one condition.
    unit_col, time_col : str
        Unit (device) and time-index columns.
    span : int
        Span (rows) of the exponentially weighted smoothing per unit.
    cap : float
        Remaining life (same unit as ``y``) from which a unit counts as fully healthy.

    Attributes
    ----------
    normalizer_ : ConditionNormalizer
    coef_ : numpy.ndarray
        Weight of each smoothed, normalised sensor in the index.

    Examples
    --------
    >>> hi = HealthIndex(sensors=["s2", "s3"]).fit(train, train["rul"])  # doctest: +SKIP
    >>> hi.predict(test)[:3]  # doctest: +SKIP
    array([0.98, 0.99, 0.97])
    """

    def __init__(
        self,
        sensors: Sequence[str] = (),
        *,
        settings: Sequence[str] = (),
        unit_col: str = "unit",
        time_col: str = "cycle",
        span: int = 10,
        cap: float = DEFAULT_CAP,
    ) -> None:
        self.sensors = sensors
        self.settings = settings
        self.unit_col = unit_col
        self.time_col = time_col
        self.span = span
        self.cap = cap

    def fit(self, X: pd.DataFrame, y: ArrayLike) -> HealthIndex:
        """Fit the index to ``min(y, cap) / cap`` (``y``: remaining life of each row)."""
        target = np.asarray(y, dtype=float)
        if target.shape != (len(X),):
            raise ValueError(f"y: expected {len(X)} remaining lives, got shape {target.shape}")
        self.normalizer_ = ConditionNormalizer(settings=self.settings, sensors=self.sensors).fit(X)
        smoother = WindowFeatures(
            self.sensors,
            unit_col=self.unit_col,
            time_col=self.time_col,
            long_window=None,
            spans=(self.span,),
            baseline=None,
            expanding=False,
            include_time=False,
        )
        names = smoother.fit(X).get_feature_names_out()
        self.smoother_ = smoother
        self.columns_ = np.flatnonzero([name.endswith(f"_ewm{self.span}") for name in names])
        model = Ridge(alpha=1.0).fit(self._smoothed(X), piecewise_linear_rul(target, self.cap))
        self.coef_ = model.coef_ / self.cap
        self.intercept_ = model.intercept_ / self.cap
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """The health index of every row (about 1 healthy, 0 failed), from history up to it."""
        check_is_fitted(self, "coef_")
        return self._smoothed(X) @ self.coef_ + self.intercept_

    def _smoothed(self, X: pd.DataFrame) -> np.ndarray:
        return self.smoother_.transform(self.normalizer_.transform(X))[:, self.columns_]
