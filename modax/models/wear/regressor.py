"""Remaining-useful-life regression on windowed features of condition-normalised sensors.

The pipeline is: cluster operating conditions and standardise sensors within each
(:class:`ConditionNormalizer`) → per-row features of each unit's history (:class:`WindowFeatures`)
→ a regressor (gradient boosting by default) trained on the piecewise-linear target (remaining life
clipped at ``cap``). Every row of a unit's history is a training example; at prediction time every
row gets the remaining life estimated from the history up to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.utils.validation import check_is_fitted

from modax.models.wear.conditions import ConditionNormalizer
from modax.models.wear.features import WindowFeatures
from modax.models.wear.target import DEFAULT_CAP, piecewise_linear_rul

__all__ = ["RULRegressor", "default_booster"]


def default_booster(random_state: int | None = None, **params: object) -> BaseEstimator:
    """The gradient-boosting regressor used when none is given (regularised, column-subsampled)."""
    settings: dict[str, object] = {
        "max_iter": 800,
        "learning_rate": 0.03,
        "max_leaf_nodes": 15,
        "min_samples_leaf": 100,
        "l2_regularization": 1.0,
        "max_features": 0.5,
        "early_stopping": False,
        "random_state": random_state,
    }
    settings.update(params)
    return HistGradientBoostingRegressor(**settings)


def _remaining_life(X: pd.DataFrame, y: ArrayLike) -> np.ndarray:
    """``y`` as one finite, non-negative remaining life per row of ``X`` (a clear error if not)."""
    target = np.asarray(y, dtype=float)
    if target.shape != (len(X),):
        raise ValueError(f"y: expected {len(X)} remaining lives, got shape {target.shape}")
    if not np.isfinite(target).all() or (target < 0).any():
        raise ValueError("y: remaining life must be finite and ≥ 0")
    return target


class RULRegressor(RegressorMixin, BaseEstimator):
    """Predict remaining useful life (cycles, hours — the unit of ``y``) from a unit's history.

    Parameters
    ----------
    features : WindowFeatures
        The feature transformer; its ``sensors``, ``unit_col`` and ``time_col`` name the columns.
    settings : sequence of str
        Operating-setting columns clustered into conditions; empty means one condition.
    n_conditions : int or "auto"
        Passed to :class:`ConditionNormalizer`.
    estimator : regressor or None
        Any scikit-learn regressor; None means :func:`default_booster`.
    cap : float or None
        Cap of the piecewise-linear target (cycles); predictions lie in [0, cap].
    random_state : int or None
        Seed given to the estimator (every ``*random_state`` parameter, nested ones too) and the
        clustering.

    Attributes
    ----------
    normalizer_ : ConditionNormalizer
    features_ : WindowFeatures
    estimator_ : the fitted regressor

    Examples
    --------
    >>> from modax.models.datasets.cmapss import load_cmapss, SETTINGS, INFORMATIVE_SENSORS
    >>> data = load_cmapss("data/cmapss", "FD001")  # doctest: +SKIP
    >>> model = RULRegressor(WindowFeatures(INFORMATIVE_SENSORS), settings=SETTINGS)
    >>> model.fit(data.train, data.train["rul"]).predict(data.test_last())  # doctest: +SKIP
    array([...])
    """

    def __init__(
        self,
        features: WindowFeatures | None = None,
        *,
        settings: Sequence[str] = (),
        n_conditions: int | str = "auto",
        estimator: BaseEstimator | None = None,
        cap: float | None = DEFAULT_CAP,
        random_state: int | None = None,
    ) -> None:
        self.features = features
        self.settings = settings
        self.n_conditions = n_conditions
        self.estimator = estimator
        self.cap = cap
        self.random_state = random_state

    def fit(self, X: pd.DataFrame, y: ArrayLike) -> RULRegressor:
        """Learn from histories ``X`` (one row per unit and time) and their remaining life ``y``."""
        target = _remaining_life(X, y)
        matrix = self._fit_features(X)
        self.estimator_ = self._fit_estimator(matrix, piecewise_linear_rul(target, self.cap))
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Remaining life of every row of ``X``, from its unit's rows up to it, in [0, cap]."""
        return self.predict_features(self.transform_features(X))

    def predict_features(self, matrix: np.ndarray) -> np.ndarray:
        """Remaining life from rows of :meth:`transform_features` output, in [0, cap]."""
        check_is_fitted(self, "estimator_")
        return self._clip(self.estimator_.predict(matrix))

    def transform_features(self, X: pd.DataFrame) -> np.ndarray:
        """The feature matrix the estimator sees for ``X`` (after normalisation)."""
        check_is_fitted(self, "features_")
        return self.features_.transform(self.normalizer_.transform(X))

    def _fit_features(self, X: pd.DataFrame) -> np.ndarray:
        if self.features is None:
            raise ValueError("features: give a WindowFeatures naming the sensor columns")
        self.features_ = clone(self.features)
        self.normalizer_ = ConditionNormalizer(
            settings=self.settings,
            sensors=self.features_.sensors,
            n_conditions=self.n_conditions,
            random_state=0 if self.random_state is None else self.random_state,
        ).fit(X)
        return self.features_.fit_transform(self.normalizer_.transform(X))

    def _fit_estimator(self, matrix: np.ndarray, target: np.ndarray, **params: object) -> Any:
        if self.estimator is None:
            model = default_booster(self.random_state, **params)
        else:
            model = clone(self.estimator).set_params(**params)
            seeds = [key for key in model.get_params() if key.endswith("random_state")]
            model.set_params(**dict.fromkeys(seeds, self.random_state))
        return model.fit(matrix, target)

    def _clip(self, values: np.ndarray) -> np.ndarray:
        return np.clip(values, 0.0, np.inf if self.cap is None else self.cap)
