"""Causal rolling-window features: each row sees only itself and the rows before it."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator, TransformerMixin

from modax.models.anomaly._base import as_matrix

__all__ = ["STATS", "RollingFeatures", "rolling_mean", "rolling_std"]


def _window_sums(X: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Sums over the trailing ``window`` rows and the number of rows in each (≤ window)."""
    csum = np.cumsum(X, axis=0)
    sums = csum.copy()
    sums[window:] -= csum[:-window]
    counts = np.minimum(np.arange(1, X.shape[0] + 1), window).astype(np.float64)
    return sums, counts[:, None]


def rolling_mean(X: np.ndarray, window: int) -> np.ndarray:
    """Mean of each column over the trailing ``window`` rows (fewer at the start).

    Examples
    --------
    >>> rolling_mean(np.array([[1.0], [3.0], [5.0]]), 2).ravel().tolist()
    [1.0, 2.0, 4.0]
    """
    centre = X.mean(axis=0)
    sums, counts = _window_sums(X - centre, window)
    return sums / counts + centre


def rolling_std(X: np.ndarray, window: int) -> np.ndarray:
    """Population standard deviation of each column over the trailing ``window`` rows.

    Examples
    --------
    >>> rolling_std(np.array([[1.0], [3.0], [5.0]]), 2).ravel().tolist()
    [0.0, 1.0, 1.0]
    """
    centred = X - X.mean(axis=0)
    sums, counts = _window_sums(centred, window)
    squares, _ = _window_sums(centred**2, window)
    return np.sqrt(np.maximum(squares / counts - (sums / counts) ** 2, 0.0))


def _mean_abs_diff(X: np.ndarray, window: int) -> np.ndarray:
    steps = np.abs(np.diff(X, axis=0, prepend=X[:1]))
    return rolling_mean(steps, window)


STATS = {"mean": rolling_mean, "std": rolling_std, "absdiff": _mean_abs_diff}


class RollingFeatures(TransformerMixin, BaseEstimator):
    """Trailing-window statistics of every column, side by side, for window-feature models.

    Parameters
    ----------
    window : int
        Rows per window (seconds at 1 Hz).
    stats : tuple of str
        Any of ``"mean"``, ``"std"`` (population) and ``"absdiff"`` (mean absolute step).

    Examples
    --------
    >>> RollingFeatures(window=2, stats=("mean",)).fit_transform([[1.0], [3.0]]).ravel().tolist()
    [1.0, 2.0]
    """

    def __init__(self, window: int = 30, stats: tuple[str, ...] = ("mean", "std")) -> None:
        self.window = window
        self.stats = stats

    def fit(self, X: ArrayLike, y: Any = None) -> RollingFeatures:
        """Check the parameters and remember the column count."""
        unknown = sorted(set(self.stats) - set(STATS))
        if unknown:
            raise ValueError(f"stats: unknown {unknown}; choose from {sorted(STATS)}")
        if self.window < 1:
            raise ValueError(f"window must be at least 1 row, got {self.window}")
        self.n_features_in_ = as_matrix(X).shape[1]
        return self

    def transform(self, X: ArrayLike) -> np.ndarray:
        """The features of ``X``: ``len(stats) × n_features`` columns."""
        matrix = as_matrix(X, self)
        return np.hstack([STATS[name](matrix, self.window) for name in self.stats])
