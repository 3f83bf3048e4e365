"""Remaining-life quantiles, so users see how sure a forecast is.

One gradient-boosting model per quantile (pinball loss) on the same features as
:class:`RULRegressor`; the median is the point forecast, the outer quantiles bound the interval.
Quantile models fitted on many correlated rows of few units come out over-confident, so by
default a share of the training units is held out and each quantile is shifted by the conformal
correction measured there (split-conformal calibration, one correction per quantile, see
:func:`conformal_offsets`). The rows of one unit share one life and are not independent: the
held-out units, not their rows, are the calibration sample — each unit weighs the same, and the
finite-sample correction counts units (decision 0017).
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

__all__ = ["QuantileRULRegressor", "conformal_offsets"]


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

    def fit(
        self, X: pd.DataFrame, y: ArrayLike, calibrate: ArrayLike | None = None
    ) -> QuantileRULRegressor:
        """Fit one quantile model per entry of ``quantiles``.

        ``calibrate`` (bool per row, optional) marks the rows whose truth may calibrate, e.g.
        only exact remaining lives, not projected ones: held-out units are drawn among units with
        such rows, and only those rows give residuals (None: every row).
        """
        levels = np.asarray(self.quantiles, dtype=float)
        if levels.size == 0 or ((levels <= 0) | (levels >= 1)).any():
            raise ValueError(f"quantiles: need values in (0, 1), got {self.quantiles!r}")
        target = _remaining_life(X, y)
        if not 0 <= self.calibration < 1:
            raise ValueError(f"calibration: need a share in [0, 1), got {self.calibration!r}")
        matrix = self._fit_features(X)
        target = piecewise_linear_rul(target, self.cap)
        units = X[self.features_.unit_col].to_numpy()
        eligible = np.ones(len(X), bool) if calibrate is None else np.asarray(calibrate, bool)
        if eligible.shape != (len(X),):
            raise ValueError(f"calibrate: expected {len(X)} flags, got shape {eligible.shape}")
        held = self._held_out(units, np.unique(units[eligible]))
        extra = {} if self.estimator is not None else {"max_iter": 300, "learning_rate": 0.08}
        self.estimators_ = [
            self._fit_estimator(
                matrix[~held], target[~held], loss="quantile", quantile=float(q), **extra
            )
            for q in levels
        ]
        self.offsets_ = np.zeros(len(levels))
        scored = held & eligible
        if scored.any():
            residual = target[scored, None] - self._raw(matrix[scored])
            self.offsets_ = conformal_offsets(residual, units[scored], levels)
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

    def _held_out(self, units: np.ndarray, candidates: np.ndarray) -> np.ndarray:
        """Rows of the units held out for calibration, drawn among ``candidates``.

        A ``calibration`` share of all units, at most the candidates, and at least one unit is
        kept for fitting.
        """
        names = np.unique(units)
        count = min(round(self.calibration * len(names)), len(names) - 1, len(candidates))
        rng = np.random.default_rng(0 if self.random_state is None else self.random_state)
        return np.isin(units, rng.choice(candidates, size=count, replace=False))

    def _median(self) -> int:
        return int(np.argmin(np.abs(np.asarray(self.quantiles, dtype=float) - 0.5)))


def conformal_offsets(residual: np.ndarray, units: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """Split-conformal shift of each quantile, from held-out units' residuals (truth − quantile).

    Each unit weighs the same whatever its number of rows. With ``n`` units, the shift of a
    quantile ``q`` above the median is the unit-weighted ``(n + 1) q / n`` quantile of its
    residuals, and below the median ``1 − (n + 1)(1 − q) / n`` (split conformal prediction's
    finite-sample rule, one side per quantile): with exchangeable units, about ``q`` of a new
    unit's truths lie below an upper quantile and ``1 − q`` above a lower one. Few units give
    wide, not over-confident, intervals (levels beyond 0 or 1 take the extreme residual). The
    median is not shifted: it is the point estimate, and a capped model's may reach its cap.

    Parameters
    ----------
    residual : numpy.ndarray
        Shape (rows, len(levels)): truth minus each uncalibrated quantile, same unit as ``y``.
    units : numpy.ndarray
        The unit of each row.
    levels : numpy.ndarray
        The quantile levels, in (0, 1).

    Examples
    --------
    >>> residual = np.array([[-1.0, 1.0], [-2.0, 2.0], [-3.0, 3.0], [-4.0, 4.0]])
    >>> conformal_offsets(residual, np.array([1, 2, 3, 4]), np.array([0.1, 0.9])).tolist()
    [-4.0, 4.0]
    """
    names, index = np.unique(units, return_inverse=True)
    n = len(names)
    weight = 1.0 / np.bincount(index)[index]
    offsets = np.empty(len(levels))
    for k, q in enumerate(levels):
        if q > 0.5:
            level = (n + 1) * q / n
        elif q < 0.5:
            level = 1.0 - (n + 1) * (1.0 - q) / n
        else:
            offsets[k] = 0.0  # the median is the point estimate: it may reach the cap
            continue
        order = np.argsort(residual[:, k], kind="stable")
        cumulative = np.cumsum(weight[order]) / n
        position = np.searchsorted(cumulative, min(max(level, 0.0), 1.0) - 1e-12)
        offsets[k] = residual[order[min(position, len(order) - 1)], k]
    return offsets
