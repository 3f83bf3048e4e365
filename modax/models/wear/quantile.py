"""Remaining-life quantiles, so users see how sure a forecast is.

One gradient-boosting model per quantile (pinball loss) on the same features as
:class:`RULRegressor`; the median is the point forecast, the outer quantiles bound the interval.
Quantile models fitted on many correlated rows of few units come out over-confident, so by
default a share of the training units is held out and each quantile is shifted by the conformal
correction measured there (split-conformal calibration, one side per quantile): the shifted
``q``-quantile has ``q`` of the held-out truths below it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from sklearn.utils.validation import check_is_fitted

from modax.models.wear.features import WindowFeatures
from modax.models.wear.regressor import RULRegressor, _remaining_life
from modax.models.wear.target import DEFAULT_CAP, piecewise_linear_rul

__all__ = ["QuantileRULRegressor"]


class QuantileRULRegressor(RULRegressor):
    """:class:`RULRegressor` that predicts quantiles of the remaining life.

    Parameters
    ----------
    quantiles : sequence of float
        Quantiles in (0, 1), e.g. ``(0.1, 0.5, 0.9)`` for a median and an 80 % interval.
    calibration : float
        Share of training units held out to calibrate the quantiles (0 fits on all, uncalibrated).
    features, settings, n_conditions, estimator, cap, random_state
        As in :class:`RULRegressor`; a given ``estimator`` must take ``loss="quantile"`` and
        ``quantile`` (as ``HistGradientBoostingRegressor`` does).

    Attributes
    ----------
    estimators_ : list
        One fitted model per quantile, in ``quantiles`` order.
    offsets_ : numpy.ndarray
        Calibration shift added to each quantile (same unit as ``y``).

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
        calibration: float = 0.2,
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
        self.calibration = calibration

    def fit(self, X: pd.DataFrame, y: ArrayLike) -> QuantileRULRegressor:
        """Fit one quantile model per entry of ``quantiles``."""
        levels = np.asarray(self.quantiles, dtype=float)
        if levels.size == 0 or ((levels <= 0) | (levels >= 1)).any():
            raise ValueError(f"quantiles: need values in (0, 1), got {self.quantiles!r}")
        target = _remaining_life(X, y)
        if not 0 <= self.calibration < 1:
            raise ValueError(f"calibration: need a share in [0, 1), got {self.calibration!r}")
        matrix = self._fit_features(X)
        target = piecewise_linear_rul(target, self.cap)
        held = self._held_out(X[self.features_.unit_col].to_numpy())
        extra = {} if self.estimator is not None else {"max_iter": 300, "learning_rate": 0.08}
        self.estimators_ = [
            self._fit_estimator(
                matrix[~held], target[~held], loss="quantile", quantile=float(q), **extra
            )
            for q in levels
        ]
        self.offsets_ = np.zeros(len(levels))
        if held.any():
            residual = target[held, None] - self._raw(matrix[held])
            self.offsets_ = np.array([np.quantile(residual[:, k], q) for k, q in enumerate(levels)])
        self.estimator_ = self.estimators_[self._median()]
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """The median (the quantile nearest 0.5) of each row's remaining life."""
        return self.predict_quantiles(X)[:, self._median()]

    def predict_features(self, matrix: np.ndarray) -> np.ndarray:
        """The median from rows of :meth:`transform_features` output."""
        return self.quantiles_from_features(matrix)[:, self._median()]

    def predict_quantiles(self, X: pd.DataFrame) -> np.ndarray:
        """Quantiles of each row's remaining life, shape (len(X), len(quantiles)), non-crossing."""
        return self.quantiles_from_features(self.transform_features(X))

    def quantiles_from_features(self, matrix: np.ndarray) -> np.ndarray:
        """:meth:`predict_quantiles` from rows of :meth:`transform_features` output."""
        check_is_fitted(self, "estimators_")
        values = self._raw(matrix) + self.offsets_
        order = np.argsort(np.asarray(self.quantiles, dtype=float))
        values[:, order] = np.sort(values[:, order], axis=1)
        return self._clip(values)

    def _raw(self, matrix: np.ndarray) -> np.ndarray:
        return np.column_stack([model.predict(matrix) for model in self.estimators_])

    def _held_out(self, units: np.ndarray) -> np.ndarray:
        """Rows of the units held out for calibration (at least one unit is kept for fitting)."""
        names = np.unique(units)
        count = min(round(self.calibration * len(names)), len(names) - 1)
        rng = np.random.default_rng(0 if self.random_state is None else self.random_state)
        return np.isin(units, rng.choice(names, size=count, replace=False))

    def _median(self) -> int:
        return int(np.argmin(np.abs(np.asarray(self.quantiles, dtype=float) - 0.5)))
