"""PCA with Hotelling's T² and the Q (squared prediction error) statistic and their limits."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats
from sklearn.decomposition import PCA
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

from modax.models.anomaly._base import Detector, as_matrix

__all__ = ["PCADetector"]

_STATISTICS = ("t2", "q", "t2q")


def _q_limit(residual_eigenvalues: np.ndarray, alpha: float) -> float:
    """Jackson–Mudholkar upper control limit of Q at significance ``alpha`` (inf: no residual)."""
    theta1, theta2, theta3 = (float(np.sum(residual_eigenvalues**k)) for k in (1, 2, 3))
    if theta1 <= 0 or theta2 <= 0:
        return float("inf")
    h0 = 1.0 - 2.0 * theta1 * theta3 / (3.0 * theta2**2)
    c_alpha = stats.norm.ppf(1.0 - alpha)
    term = (
        c_alpha * np.sqrt(2.0 * theta2 * h0**2) / theta1
        + 1.0
        + theta2 * h0 * (h0 - 1.0) / theta1**2
    )
    return float(theta1 * term ** (1.0 / h0))


class PCADetector(Detector):
    """Multivariate statistical process control: PCA on standardised data, T² and Q limits.

    The training data is standardised and projected on the principal components that explain
    ``n_components`` of its variance (or that many components, if an int). Hotelling's T² (the
    Mahalanobis distance inside the model) is compared with its F-distribution limit and Q
    (the squared distance to the model) with the Jackson–Mudholkar limit, both at
    significance ``alpha``. The score is the statistic divided by its limit (for ``t2q``, the
    larger of the two ratios), so 1.0 is the control limit and ``threshold_ = margin``.

    Parameters
    ----------
    n_components : float or int
        Variance share to keep (0 < x < 1) or a number of components.
    statistic : {"t2q", "t2", "q"}
        Which statistic scores a row.
    alpha : float
        Significance of the control limits (0.01 → 99 % limits).
    margin : float
        Multiplier of the control limit at which a row alarms.
    min_duration : int
        Rows an excursion must last before its points count as alarms.

    Attributes
    ----------
    t2_limit_, q_limit_ : float
        The control limits.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> latent = rng.normal(size=(500, 1))
    >>> train = np.hstack([latent, latent + 0.1 * rng.normal(size=(500, 1))])
    >>> det = PCADetector(n_components=1, statistic="q").fit(train)
    >>> det.predict([[1.0, 1.0], [1.0, -1.0]]).tolist()
    [0, 1]
    """

    def __init__(
        self,
        n_components: float | int = 0.85,
        statistic: str = "t2q",
        alpha: float = 0.01,
        margin: float = 1.0,
        min_duration: int = 1,
    ) -> None:
        self.n_components = n_components
        self.statistic = statistic
        self.alpha = alpha
        self.margin = margin
        self.min_duration = min_duration

    def _min_rows(self) -> tuple[int, str]:
        return 2, " (a covariance needs two)"

    def _fit(self, X: np.ndarray) -> None:
        if self.statistic not in _STATISTICS:
            raise ValueError(f"statistic must be one of {_STATISTICS}, got {self.statistic!r}")
        if not 0 < self.alpha < 1:
            raise ValueError(f"alpha must be between 0 and 1, got {self.alpha}")
        self.scaler_ = StandardScaler().fit(X)
        Z = self.scaler_.transform(X)
        self.pca_ = PCA(n_components=self.n_components, svd_solver="full").fit(Z)
        n, k = Z.shape[0], self.pca_.n_components_
        if n <= k:
            raise ValueError(f"PCADetector needs more training rows than components: {n} ≤ {k}")
        self.t2_limit_ = float(
            k * (n - 1) * (n + 1) / (n * (n - k)) * stats.f.ppf(1 - self.alpha, k, n - k)
        )
        all_eigenvalues = PCA(svd_solver="full").fit(Z).explained_variance_
        self.q_limit_ = _q_limit(all_eigenvalues[k:], self.alpha)

    def _statistics(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        Z = self.scaler_.transform(X)
        T = self.pca_.transform(Z)
        t2 = np.sum(T**2 / self.pca_.explained_variance_, axis=1)
        q = np.sum((Z - self.pca_.inverse_transform(T)) ** 2, axis=1)
        return t2, q

    def t2_q(self, X: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """Hotelling's T² and Q of every row (unscaled by their limits)."""
        check_is_fitted(self, "pca_")
        return self._statistics(as_matrix(X, self))

    def _score(self, X: np.ndarray) -> np.ndarray:
        t2, q = self._statistics(X)
        if self.statistic == "t2":
            return t2 / self.t2_limit_
        if self.statistic == "q":
            return q / self.q_limit_
        return np.maximum(t2 / self.t2_limit_, q / self.q_limit_)

    def _calibrate(self, train_scores: np.ndarray) -> float:
        return float(self.margin)
