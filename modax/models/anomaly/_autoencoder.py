"""A small sequence model: a multilayer-perceptron autoencoder over sliding windows."""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPRegressor
from sklearn.preprocessing import StandardScaler

from modax.models.anomaly._base import Detector

__all__ = ["WindowAutoencoder"]


def _windows(Z: np.ndarray, window: int) -> np.ndarray:
    """Every trailing window of ``window`` rows, flattened; the first row pads the start."""
    padded = np.vstack([np.repeat(Z[:1], window - 1, axis=0), Z])
    index = np.arange(window)[None, :] + np.arange(Z.shape[0])[:, None]
    return padded[index].reshape(Z.shape[0], -1)


class WindowAutoencoder(Detector):
    """Reconstruction error of the trailing window under an MLP autoencoder (a sequence model).

    Rows are standardised on the training data; each row's trailing ``window`` rows are
    flattened and passed through a bottlenecked multilayer perceptron trained to reproduce
    them. The score is the mean squared reconstruction error; ``threshold_`` is a
    ``quantile`` of the training scores widened by ``margin``, and alarms must last
    ``min_duration`` rows — the recipe of SKAB's Conv-AE reference, on scikit-learn.

    Parameters
    ----------
    window : int
        Rows per window (seconds at 1 Hz).
    hidden : tuple of int
        Hidden layer sizes (the bottleneck).
    alpha : float
        L2 penalty of the network.
    max_iter : int
        Training epochs (Adam).
    quantile, margin : float
        Threshold calibration on the training scores (see :class:`Detector`).
    min_duration : int
        Rows an excursion must last before its points count as alarms.
    random_state : int or None
        Seed of the network's initialisation.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> t = np.arange(400.0)
    >>> train = np.column_stack([np.sin(t / 5), np.cos(t / 5)]) + 0.05 * rng.normal(size=(400, 2))
    >>> det = WindowAutoencoder(window=5, min_duration=1, random_state=0).fit(train)
    >>> bad = train[:50] + [0.0, 3.0]
    >>> bool(det.score_samples(bad)[10:].min() > det.threshold_)
    True
    """

    def __init__(
        self,
        window: int = 10,
        hidden: tuple[int, ...] = (32,),
        *,
        alpha: float = 1e-3,
        max_iter: int = 300,
        quantile: float = 0.99,
        margin: float = 1.5,
        min_duration: int = 20,
        random_state: int | None = None,
    ) -> None:
        self.window = window
        self.hidden = hidden
        self.alpha = alpha
        self.max_iter = max_iter
        self.quantile = quantile
        self.margin = margin
        self.min_duration = min_duration
        self.random_state = random_state

    def _min_rows(self) -> tuple[int, str]:
        return self.window, " (one full window)"

    def _fit(self, X: np.ndarray) -> None:
        if self.window < 1:
            raise ValueError(f"window must be at least 1 row, got {self.window}")
        self.scaler_ = StandardScaler().fit(X)
        W = _windows(self.scaler_.transform(X), self.window)[self.window - 1 :]
        self.network_ = MLPRegressor(
            hidden_layer_sizes=self.hidden,
            alpha=self.alpha,
            max_iter=self.max_iter,
            random_state=self.random_state,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.network_.fit(W, W)

    def _score(self, X: np.ndarray) -> np.ndarray:
        W = _windows(self.scaler_.transform(X), self.window)
        return ((self.network_.predict(W) - W) ** 2).mean(axis=1)
