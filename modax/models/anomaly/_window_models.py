"""scikit-learn outlier models on standardised rolling-window features."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.ensemble import IsolationForest
from sklearn.neighbors import LocalOutlierFactor
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import OneClassSVM

from modax.models.anomaly._base import Detector
from modax.models.anomaly._features import RollingFeatures

__all__ = ["IsolationForestDetector", "LOFDetector", "OneClassSVMDetector"]


class _WindowModel(Detector):
    """Rolling features → StandardScaler → a scikit-learn model; score = −model.score_samples.

    The model and the threshold learn from complete windows only: the first ``window − 1``
    training rows, whose windows are still filling, are left out when there are enough rows.
    """

    def __init__(
        self,
        window: int,
        stats: tuple[str, ...],
        *,
        quantile: float,
        margin: float,
        min_duration: int,
    ) -> None:
        self.window = window
        self.stats = stats
        self.quantile = quantile
        self.margin = margin
        self.min_duration = min_duration

    def _model(self) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _warm(self, rows: int) -> int:
        """Rows at the start whose windows are still filling (skipped when there are enough)."""
        warm = self.window - 1
        return warm if rows > 2 * warm else 0

    def _fit(self, X: np.ndarray) -> None:
        features = RollingFeatures(window=self.window, stats=self.stats).fit(X)
        self.pipeline_: Pipeline = make_pipeline(features, StandardScaler(), self._model())
        warm = self._warm(X.shape[0])
        self.pipeline_[1:].fit(features.transform(X)[warm:])

    def _score(self, X: np.ndarray) -> np.ndarray:
        return -self.pipeline_.score_samples(X)

    def _calibrate(self, train_scores: np.ndarray) -> float:
        return super()._calibrate(train_scores[self._warm(train_scores.size) :])


class IsolationForestDetector(_WindowModel):
    """IsolationForest on rolling-window features; alarms above a training-score quantile.

    Parameters
    ----------
    window : int
        Rows per feature window (seconds at 1 Hz).
    stats : tuple of str
        Window statistics (see :class:`RollingFeatures`).
    n_estimators : int
        Trees in the forest.
    quantile, margin : float
        ``threshold_`` is the ``quantile`` of the training scores, widened by ``margin − 1``
        times its distance from their median (:meth:`Detector._calibrate`).
    min_duration : int
        Rows an excursion must last before its points count as alarms.
    random_state : int or None
        Seed of the forest.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> det = IsolationForestDetector(window=5, random_state=0).fit(rng.normal(size=(300, 2)))
    >>> int(det.predict(np.full((20, 2), 6.0))[-1])
    1
    """

    def __init__(
        self,
        window: int = 30,
        stats: tuple[str, ...] = ("mean", "std"),
        *,
        n_estimators: int = 100,
        quantile: float = 0.99,
        margin: float = 1.0,
        min_duration: int = 1,
        random_state: int | None = None,
    ) -> None:
        super().__init__(window, stats, quantile=quantile, margin=margin, min_duration=min_duration)
        self.n_estimators = n_estimators
        self.random_state = random_state

    def _model(self) -> IsolationForest:
        return IsolationForest(n_estimators=self.n_estimators, random_state=self.random_state)


class LOFDetector(_WindowModel):
    """LocalOutlierFactor (novelty mode) on rolling-window features.

    Parameters
    ----------
    window : int
        Rows per feature window (seconds at 1 Hz).
    stats : tuple of str
        Window statistics (see :class:`RollingFeatures`).
    n_neighbors : int
        Neighbours of the local density estimate.
    quantile, margin : float
        ``threshold_`` is the ``quantile`` of the training scores, widened by ``margin − 1``
        times its distance from their median (:meth:`Detector._calibrate`).
    min_duration : int
        Rows an excursion must last before its points count as alarms.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> det = LOFDetector(window=5).fit(rng.normal(size=(300, 2)))
    >>> int(det.predict(np.full((20, 2), 6.0))[-1])
    1
    """

    def __init__(
        self,
        window: int = 30,
        stats: tuple[str, ...] = ("mean", "std"),
        *,
        n_neighbors: int = 20,
        quantile: float = 0.99,
        margin: float = 1.0,
        min_duration: int = 1,
    ) -> None:
        super().__init__(window, stats, quantile=quantile, margin=margin, min_duration=min_duration)
        self.n_neighbors = n_neighbors

    def _model(self) -> LocalOutlierFactor:
        return LocalOutlierFactor(n_neighbors=self.n_neighbors, novelty=True)


class OneClassSVMDetector(_WindowModel):
    """One-class SVM (RBF kernel) on rolling-window features.

    Parameters
    ----------
    window : int
        Rows per feature window (seconds at 1 Hz).
    stats : tuple of str
        Window statistics (see :class:`RollingFeatures`).
    nu : float
        Upper bound on the share of training points outside the boundary.
    gamma : float or str
        RBF kernel width (``"scale"`` adapts to the feature variance).
    quantile, margin : float
        ``threshold_`` is the ``quantile`` of the training scores, widened by ``margin − 1``
        times its distance from their median (:meth:`Detector._calibrate`).
    min_duration : int
        Rows an excursion must last before its points count as alarms.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> det = OneClassSVMDetector(window=5).fit(rng.normal(size=(300, 2)))
    >>> int(det.predict(np.full((20, 2), 6.0))[-1])
    1
    """

    def __init__(
        self,
        window: int = 30,
        stats: tuple[str, ...] = ("mean", "std"),
        *,
        nu: float = 0.05,
        gamma: float | str = "scale",
        quantile: float = 0.99,
        margin: float = 1.0,
        min_duration: int = 1,
    ) -> None:
        super().__init__(window, stats, quantile=quantile, margin=margin, min_duration=min_duration)
        self.nu = nu
        self.gamma = gamma

    def _model(self) -> OneClassSVM:
        return OneClassSVM(nu=self.nu, gamma=self.gamma)
