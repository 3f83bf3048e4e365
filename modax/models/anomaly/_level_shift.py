"""Drift-discounted level-shift detector: the best modax detector on the SKAB development set."""

from __future__ import annotations

import numpy as np

from modax.models.anomaly._base import Detector
from modax.models.anomaly._features import rolling_mean

__all__ = ["LevelShiftDetector"]


class LevelShiftDetector(Detector):
    """Flags sustained shifts of any channel's trailing mean, discounting channels that drift.

    For each channel ``j`` it learns, on the training rows, the mean ``μⱼ`` and standard
    deviation ``sⱼ`` of the trailing ``window``-row mean, and a drift index
    ``Rⱼ = sⱼ² / (σⱼ² / window)``: about 1 for a channel whose samples are independent noise
    around a level (flow rate, pressure), up to ``window`` for one that wanders smoothly
    (temperatures). Such slow channels keep wandering after training, so their deviations are
    discounted: the score of a row is ``maxⱼ |mⱼ − μⱼ| / (sⱼ · max(Rⱼ, 1)^(discount/2))``, a
    z value, and a point alarms when it exceeds ``threshold`` for ``min_duration`` rows in a
    row. On the SKAB development files this keeps false alarms from thermal drift down while
    catching the valve-closing level shifts.

    Parameters
    ----------
    window : int
        Rows in the trailing mean (seconds at 1 Hz).
    discount : float
        Exponent of the drift discount: 0 is a plain z score of the trailing mean.
    threshold : float
        Alarm level of the score (a z value).
    min_duration : int
        Rows an excursion must last before its points count as alarms.

    Attributes
    ----------
    mean_, scale_ : ndarray
        ``μⱼ`` and the discounted scale ``sⱼ · max(Rⱼ, 1)^(discount/2)`` per channel.
    drift_index_ : ndarray
        ``Rⱼ`` per channel.
    threshold_ : float
        Equal to ``threshold``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> train = rng.normal(size=(300, 2))
    >>> test = np.vstack([rng.normal(size=(100, 2)), rng.normal(size=(100, 2)) + [0, 3]])
    >>> alarms = LevelShiftDetector(window=10, min_duration=5).fit(train).predict(test)
    >>> int(alarms[:100].sum()), int(alarms[120:].sum())
    (0, 80)
    """

    def __init__(
        self,
        window: int = 20,
        discount: float = 1.5,
        threshold: float = 2.5,
        min_duration: int = 20,
    ) -> None:
        self.window = window
        self.discount = discount
        self.threshold = threshold
        self.min_duration = min_duration

    def _fit(self, X: np.ndarray) -> None:
        if self.window < 1:
            raise ValueError(f"window must be at least 1 row, got {self.window}")
        if X.shape[0] < 2 * self.window:
            raise ValueError(
                f"LevelShiftDetector needs at least {2 * self.window} training rows "
                f"(2 × window), got {X.shape[0]}"
            )
        means = rolling_mean(X, self.window)[self.window - 1 :]
        spread = means.std(axis=0)
        noise = X.var(axis=0) / self.window
        tiny = np.finfo(np.float64).tiny
        self.mean_ = means.mean(axis=0)
        self.drift_index_ = spread**2 / np.maximum(noise, tiny)
        discount = np.maximum(self.drift_index_, 1.0) ** (self.discount / 2)
        self.scale_ = np.maximum(spread * discount, tiny)

    def _score(self, X: np.ndarray) -> np.ndarray:
        z = np.abs(rolling_mean(X, self.window) - self.mean_) / self.scale_
        return z.max(axis=1)

    def _calibrate(self, train_scores: np.ndarray) -> float:
        return float(self.threshold)
