"""Remaining-life quantiles, so users see how sure a forecast is.

One gradient-boosting model per quantile (pinball loss) on the same features as
:class:`RULRegressor`; the median is the point forecast, the outer quantiles bound the interval.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from sklearn.utils.validation import check_is_fitted

from modax.models.wear.features import WindowFeatures
from modax.models.wear.regressor import RULRegressor
from modax.models.wear.target import DEFAULT_CAP, piecewise_linear_rul

__all__ = ["QuantileRULRegressor"]


class QuantileRULRegressor(RULRegressor):
    """:class:`RULRegressor` that predicts quantiles of the remaining life.

    Parameters
    ----------
    quantiles : sequence of float
        Quantiles in (0, 1), e.g. ``(0.1, 0.5, 0.9)`` for a median and an 80 % interval.
    features, settings, n_conditions, estimator, cap, random_state
        As in :class:`RULRegressor`; a given ``estimator`` must take ``loss="quantile"`` and
        ``quantile`` (as ``HistGradientBoostingRegressor`` does).

    Attributes
    ----------
    estimators_ : list
        One fitted model per quantile, in ``quantiles`` order.

    Examples
    --------
    >>> model = QuantileRULRegressor(WindowFeatures(["s2", "s3"]), quantiles=(0.1, 0.5, 0.9))
    >>> model.fit(train, train["rul"]).predict_quantiles(test).shape  # doctest: +SKIP
    (n_rows, 3)
    """

    def __init__(
        self,
        features: WindowFeatures | None = None,
        *,
        settings: Sequence[str] = (),
        n_conditions: int | str = "auto",
        estimator: object = None,
        cap: float | None = DEFAULT_CAP,
        random_state: int | None = None,
        quantiles: Sequence[float] = (0.1, 0.5, 0.9),
    ) -> None:
        super().__init__(
            features,
            settings=settings,
            n_conditions=n_conditions,
            estimator=estimator,
            cap=cap,
            random_state=random_state,
        )
        self.quantiles = quantiles

    def fit(self, X: pd.DataFrame, y: ArrayLike) -> QuantileRULRegressor:
        """Fit one quantile model per entry of ``quantiles``."""
        levels = np.asarray(self.quantiles, dtype=float)
        if levels.size == 0 or ((levels <= 0) | (levels >= 1)).any():
            raise ValueError(f"quantiles: need values in (0, 1), got {self.quantiles!r}")
        target = np.asarray(y, dtype=float)
        if target.shape != (len(X),):
            raise ValueError(f"y: expected {len(X)} remaining lives, got shape {target.shape}")
        matrix = self._fit_features(X)
        target = piecewise_linear_rul(target, self.cap)
        self.estimators_ = [
            self._fit_estimator(matrix, target, loss="quantile", quantile=float(q)) for q in levels
        ]
        self.estimator_ = self.estimators_[self._median()]
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """The median (the quantile nearest 0.5) of each row's remaining life."""
        return self.predict_quantiles(X)[:, self._median()]

    def predict_quantiles(self, X: pd.DataFrame) -> np.ndarray:
        """Quantiles of each row's remaining life, shape (len(X), len(quantiles)), non-crossing."""
        check_is_fitted(self, "estimators_")
        matrix = self.transform_features(X)
        values = np.column_stack([model.predict(matrix) for model in self.estimators_])
        order = np.argsort(np.asarray(self.quantiles, dtype=float))
        values[:, order] = np.sort(values[:, order], axis=1)
        return self._clip(values)

    def _median(self) -> int:
        return int(np.argmin(np.abs(np.asarray(self.quantiles, dtype=float) - 0.5)))
