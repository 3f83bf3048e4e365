"""Per-operating-condition normalisation of sensor readings.

A machine's sensors read very differently at each operating point (altitude, speed, load), far
more than wear moves them. The operating conditions are found by clustering the setting columns;
each sensor is then standardised with the mean and spread it has *in that condition*, so what is
left is the drift caused by wear. With one condition (C-MAPSS FD001/FD003) this is a plain
standardisation.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.cluster import KMeans
from sklearn.utils.validation import check_is_fitted

__all__ = ["ConditionNormalizer"]


class ConditionNormalizer(TransformerMixin, BaseEstimator):
    """Cluster operating settings into conditions and standardise sensors within each.

    Parameters
    ----------
    settings : sequence of str
        Columns describing the operating point; empty means one condition.
    sensors : sequence of str
        Columns to standardise; other columns pass through unchanged.
    n_conditions : int or "auto"
        Number of conditions; ``"auto"`` picks the smallest k ≤ ``max_conditions`` whose
        clusters explain at least ``explained`` of the settings' variance (1 when none does).
    max_conditions : int
        Largest k tried by ``"auto"``.
    explained : float
        Share of the settings' variance the chosen clusters must explain (0–1).
    random_state : int
        Seed of the k-means initialisation.

    Attributes
    ----------
    n_conditions_ : int
        Number of conditions found.
    kmeans_ : KMeans or None
        The fitted clustering on range-scaled settings (None with one condition).
    mean_, scale_ : numpy.ndarray
        Per-condition sensor mean and standard deviation, shape (n_conditions_, n_sensors).

    Examples
    --------
    >>> frame = pd.DataFrame({"alt": [0, 0, 0, 10, 10, 10], "t": [1, 2, 3, 101, 102, 103]})
    >>> norm = ConditionNormalizer(settings=["alt"], sensors=["t"]).fit(frame)
    >>> norm.n_conditions_, norm.transform(frame)["t"].round(2).tolist()
    (2, [-1.22, 0.0, 1.22, -1.22, 0.0, 1.22])
    """

    def __init__(
        self,
        *,
        settings: Sequence[str] = (),
        sensors: Sequence[str] = (),
        n_conditions: int | str = "auto",
        max_conditions: int = 10,
        explained: float = 0.999,
        random_state: int = 0,
    ) -> None:
        self.settings = settings
        self.sensors = sensors
        self.n_conditions = n_conditions
        self.max_conditions = max_conditions
        self.explained = explained
        self.random_state = random_state

    def fit(self, X: pd.DataFrame, y: object = None) -> ConditionNormalizer:
        """Find the conditions in ``X[settings]`` and each sensor's statistics per condition."""
        _require_columns(X, [*self.settings, *self.sensors])
        points = self._scaled_settings(X, fit=True)
        self.kmeans_ = self._cluster(points)
        self.n_conditions_ = 1 if self.kmeans_ is None else self.kmeans_.n_clusters
        labels = self._labels(points)
        values = X[list(self.sensors)].to_numpy(dtype=float)
        self.mean_ = np.zeros((self.n_conditions_, values.shape[1]))
        self.scale_ = np.ones((self.n_conditions_, values.shape[1]))
        for k in range(self.n_conditions_):
            rows = values[labels == k]
            if len(rows):
                self.mean_[k] = rows.mean(axis=0)
                std = rows.std(axis=0)
                self.scale_[k] = np.where(std > 1e-12, std, 1.0)
        return self

    def predict_condition(self, X: pd.DataFrame) -> np.ndarray:
        """The condition index (0 … n_conditions_-1) of each row."""
        check_is_fitted(self, "mean_")
        _require_columns(X, self.settings)
        return self._labels(self._scaled_settings(X, fit=False))

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        """A copy of ``X`` whose sensor columns are standardised within their condition."""
        labels = self.predict_condition(X)
        _require_columns(X, self.sensors)
        out = X.copy()
        values = X[list(self.sensors)].to_numpy(dtype=float)
        out[list(self.sensors)] = (values - self.mean_[labels]) / self.scale_[labels]
        return out

    def _scaled_settings(self, X: pd.DataFrame, fit: bool) -> np.ndarray:
        points = X[list(self.settings)].to_numpy(dtype=float).reshape(len(X), len(self.settings))
        if fit:
            self.settings_min_ = points.min(axis=0) if len(points) else np.zeros(0)
            span = points.max(axis=0) - self.settings_min_ if len(points) else np.zeros(0)
            self.settings_span_ = np.where(span > 0, span, 1.0)
        return (points - self.settings_min_) / self.settings_span_

    def _cluster(self, points: np.ndarray) -> KMeans | None:
        if points.shape[1] == 0 or len(points) < 2:
            return None
        if self.n_conditions != "auto":
            k = int(self.n_conditions)
            if k < 1:
                raise ValueError(f"n_conditions: must be ≥ 1 or 'auto', got {self.n_conditions!r}")
            return None if k == 1 else self._kmeans(k).fit(points)
        rng = np.random.default_rng(self.random_state)
        sample = points[rng.choice(len(points), min(len(points), 5000), replace=False)]
        total = ((sample - sample.mean(axis=0)) ** 2).sum()
        if total <= 0:
            return None
        for k in range(2, min(self.max_conditions, len(np.unique(sample, axis=0))) + 1):
            model = self._kmeans(k).fit(sample)
            if 1.0 - model.inertia_ / total >= self.explained:
                return self._kmeans(k).fit(points)
        return None

    def _kmeans(self, k: int) -> KMeans:
        return KMeans(n_clusters=k, n_init=4, random_state=self.random_state)

    def _labels(self, points: np.ndarray) -> np.ndarray:
        if self.kmeans_ is None:
            return np.zeros(len(points), dtype=np.intp)
        return self.kmeans_.predict(points).astype(np.intp)


def _require_columns(X: pd.DataFrame, columns: Sequence[str]) -> None:
    if not isinstance(X, pd.DataFrame):
        raise TypeError(f"X: expected a pandas DataFrame, got {type(X).__name__}")
    missing = [c for c in columns if c not in X.columns]
    if missing:
        raise ValueError(f"X: missing column(s) {', '.join(missing)}")
