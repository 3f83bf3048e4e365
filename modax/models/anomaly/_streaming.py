"""An online detector for live scoring: exponentially weighted baselines, updated per batch."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from modax.models.anomaly._base import Detector, as_matrix

__all__ = ["StreamingDetector"]


@dataclass(frozen=True)
class _State:
    """Per-channel state: fast level, slow baseline mean and variance of that level."""

    level: np.ndarray
    mean: np.ndarray
    var: np.ndarray


def _alpha(span: float) -> float:
    return 2.0 / (span + 1.0)


def _run(
    state: _State, X: np.ndarray, spans: tuple[float, float], threshold: float
) -> tuple[np.ndarray, _State]:
    """Score rows one by one; the baseline learns only from rows that do not alarm."""
    fast, slow = (_alpha(span) for span in spans)
    level, mean, var = state.level.copy(), state.mean.copy(), state.var.copy()
    floor = np.finfo(np.float64).tiny
    scores = np.empty(X.shape[0])
    for i, row in enumerate(X):
        level += fast * (row - level)
        deviation = level - mean
        scores[i] = float(np.max(np.abs(deviation) / np.sqrt(np.maximum(var, floor))))
        if scores[i] <= threshold:
            mean += slow * deviation
            var = (1.0 - slow) * (var + slow * deviation**2)
    return scores, _State(level, mean, var)


class StreamingDetector(Detector):
    """Exponentially weighted z score of a fast level against a slow baseline, learnt online.

    Each channel keeps a fast exponentially weighted level (span ``window`` rows) and a slow
    baseline mean and variance of that level (span ``memory`` rows). A row's score is the
    largest ``|level − baseline mean| / baseline std`` over channels. The baseline follows
    slow drift but stops learning while a row alarms, so a sustained fault is not absorbed.
    ``score_samples`` and ``predict`` never change the model; :meth:`partial_fit` moves it
    forward over new rows (one batch at a time, live).

    Parameters
    ----------
    window : float
        Span of the fast level (rows).
    memory : float
        Span of the slow baseline (rows).
    threshold : float
        Alarm level of the score (a z value).
    min_duration : int
        Rows an excursion must last before its points count as alarms.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> det = StreamingDetector(window=5, memory=200).fit(rng.normal(size=(400, 2)))
    >>> det = det.partial_fit(rng.normal(size=(100, 2)))
    >>> int(det.predict(rng.normal(size=(50, 2)) + [0, 4])[-1])
    1
    """

    def __init__(
        self,
        window: float = 20.0,
        memory: float = 600.0,
        threshold: float = 4.0,
        min_duration: int = 10,
    ) -> None:
        self.window = window
        self.memory = memory
        self.threshold = threshold
        self.min_duration = min_duration

    def _fit(self, X: np.ndarray) -> None:
        if not 1 <= self.window <= self.memory:
            raise ValueError(f"need 1 ≤ window ≤ memory, got {self.window} and {self.memory}")
        start = _State(level=X[0].copy(), mean=X.mean(axis=0), var=X.var(axis=0) / self.window)
        _, self.state_ = _run(start, X, (self.window, self.memory), np.inf)

    def _score(self, X: np.ndarray) -> np.ndarray:
        scores, _ = _run(self.state_, X, (self.window, self.memory), self.threshold)
        return scores

    def _calibrate(self, train_scores: np.ndarray) -> float:
        return float(self.threshold)

    def partial_fit(self, X: ArrayLike, y: Any = None) -> StreamingDetector:
        """Move the model forward over the rows of ``X`` (in time order); fit first if new.

        ``y`` is ignored, as in :meth:`fit`.
        """
        if not hasattr(self, "state_"):
            return self.fit(X)
        _, self.state_ = _run(
            self.state_,
            as_matrix(X, self),
            (self.window, self.memory),
            self.threshold,
        )
        return self
