"""MSET-style similarity-based modelling: estimate each row from remembered normal states."""

from __future__ import annotations

import numpy as np
from sklearn.preprocessing import StandardScaler

from modax.models.anomaly._base import Detector

__all__ = ["MSETDetector"]


class MSETDetector(Detector):
    """Multivariate State Estimation Technique with a Gaussian similarity operator.

    On standardised training rows it keeps a memory matrix ``D`` of ``memory_size`` states:
    the rows holding each feature's minimum and maximum, then rows evenly spaced in order of
    their norm. A row ``x`` is estimated as ``x̂ = Dᵀ w`` with
    ``w ∝ (K(D, D) + ridge·I)⁻¹ K(D, x)`` (weights normalised to sum to one) and
    ``K(a, b) = exp(−‖a − b‖² / (2 · bandwidth² · n_features))``. The score is the mean squared
    residual ``‖x − x̂‖² / n_features``; ``threshold_`` is a ``quantile`` of the training
    scores widened by ``margin``.

    Parameters
    ----------
    memory_size : int
        States kept in the memory matrix (at most the training rows).
    bandwidth : float
        Kernel width, in standard deviations per feature.
    ridge : float
        Regularisation of the similarity matrix.
    quantile, margin : float
        Threshold calibration on the training scores (see :class:`Detector`).
    min_duration : int
        Rows an excursion must last before its points count as alarms.

    Attributes
    ----------
    memory_ : ndarray
        The remembered (standardised) states.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> t = rng.normal(size=(400, 1))
    >>> train = np.hstack([t, 2 * t]) + 0.05 * rng.normal(size=(400, 2))
    >>> det = MSETDetector(memory_size=50).fit(train)
    >>> det.predict(np.array([[1.0, 2.0], [1.0, -2.0]])).tolist()
    [0, 1]
    """

    def __init__(
        self,
        memory_size: int = 100,
        bandwidth: float = 0.5,
        ridge: float = 1e-3,
        quantile: float = 0.99,
        margin: float = 1.0,
        min_duration: int = 1,
    ) -> None:
        self.memory_size = memory_size
        self.bandwidth = bandwidth
        self.ridge = ridge
        self.quantile = quantile
        self.margin = margin
        self.min_duration = min_duration

    def _kernel(self, A: np.ndarray, B: np.ndarray) -> np.ndarray:
        squared = (A**2).sum(1)[:, None] + (B**2).sum(1)[None, :] - 2.0 * A @ B.T
        scale = 2.0 * self.bandwidth**2 * A.shape[1]
        return np.exp(-np.maximum(squared, 0.0) / scale)

    def _fit(self, X: np.ndarray) -> None:
        if self.memory_size < 2:
            raise ValueError(f"memory_size must be at least 2, got {self.memory_size}")
        self.scaler_ = StandardScaler().fit(X)
        Z = self.scaler_.transform(X)
        chosen = list(dict.fromkeys([*Z.argmin(axis=0).tolist(), *Z.argmax(axis=0).tolist()]))
        taken = set(chosen)
        rest = np.array([i for i in np.argsort(np.linalg.norm(Z, axis=1)) if i not in taken])
        room = min(max(self.memory_size - len(chosen), 0), rest.size)
        if room:
            chosen += rest[np.linspace(0, rest.size - 1, num=room).astype(int)].tolist()
        self.memory_ = Z[chosen]
        gram = self._kernel(self.memory_, self.memory_)
        self.inverse_ = np.linalg.pinv(gram + self.ridge * np.eye(len(chosen)))

    def _score(self, X: np.ndarray) -> np.ndarray:
        Z = self.scaler_.transform(X)
        weights = self.inverse_ @ self._kernel(self.memory_, Z)
        total = weights.sum(axis=0)
        weights = weights / np.where(np.abs(total) > 1e-12, total, 1.0)
        estimate = weights.T @ self.memory_
        return ((Z - estimate) ** 2).mean(axis=1)
