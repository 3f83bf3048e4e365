"""What every modax anomaly detector shares: input checks, thresholds and the alarm filter."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_array, check_is_fitted

__all__ = ["Detector", "as_matrix", "min_duration_filter"]


def as_matrix(X: ArrayLike, fitted: BaseEstimator | None = None) -> np.ndarray:
    """``X`` as a finite float64 matrix (rows in time order), with a clear error if it is not.

    A 1-D ``X`` is one channel: a column.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features) or (n_samples,)
        Readings, one row per sample in time order.
    fitted : estimator, optional
        The fitted estimator ``X`` is for: ``X`` must have its ``n_features_in_`` columns.

    Raises
    ------
    TypeError
        For sparse input (detectors take dense rows).
    ValueError
        Naming the problem: complex values, wrong shape, no rows or columns, a non-finite value
        (with its row and column) or a column count other than the one ``fitted`` was fitted on.
    """
    array = check_array(
        X,
        dtype=np.float64,
        ensure_2d=False,
        allow_nd=True,
        ensure_all_finite=False,
        ensure_min_samples=0,
        input_name="X",
    )
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2:
        raise ValueError(f"X must be a 2-D (samples × features) array, got shape {array.shape}")
    if array.shape[0] == 0:
        raise ValueError("X has no rows")
    bad = ~np.isfinite(array)
    if bad.any():
        row, col = (int(v) for v in np.argwhere(bad)[0])
        raise ValueError(
            f"X[{row}, {col}] is {array[row, col]}: detectors need finite values, not NaN or inf"
        )
    if fitted is not None and array.shape[1] != fitted.n_features_in_:
        raise ValueError(
            f"X has {array.shape[1]} features, but {type(fitted).__name__} is expecting "
            f"{fitted.n_features_in_} features as input (the columns it was fitted on)"
        )
    return array


def min_duration_filter(alarms: ArrayLike, min_duration: int) -> np.ndarray:
    """Keep only runs of at least ``min_duration`` consecutive alarms (0/1 in, 0/1 out).

    This is the alarm filter of the SKAB Conv-AE reference: a point is reported only when it
    belongs to a sustained excursion. Live, it means an alarm is raised ``min_duration − 1``
    samples after the excursion starts.

    Examples
    --------
    >>> min_duration_filter([1, 0, 1, 1, 1, 0, 1, 1], 3).tolist()
    [0, 0, 1, 1, 1, 0, 0, 0]
    """
    flags = np.asarray(alarms).astype(np.int8)
    if min_duration <= 1:
        return flags
    edges = np.diff(np.concatenate(([0], flags, [0])))
    starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    out = np.zeros_like(flags)
    for start, stop in zip(starts, stops, strict=True):
        if stop - start >= min_duration:
            out[start:stop] = 1
    return out


class Detector(BaseEstimator):
    """Base class: ``fit`` learns normal behaviour, ``score_samples`` is higher when stranger.

    Subclasses implement ``_fit(X)`` and ``_score(X)`` on float matrices. The base class checks
    input, calibrates ``threshold_`` on the training scores (by default from a ``quantile`` of
    them and a ``margin``; subclasses with natural limits override ``_calibrate``), and turns
    scores into 0/1 alarms with the :func:`min_duration_filter`.

    Unlike scikit-learn's outlier detectors, ``score_samples`` grows with abnormality and
    ``predict`` returns 1 for an anomaly and 0 for normal, the convention of anomaly
    benchmarks and of modax's ``scores`` table. Rows are samples in time order: detectors
    with windows look back over earlier rows of the same call.
    """

    quantile: float
    margin: float
    min_duration: int

    def _fit(self, X: np.ndarray) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _score(self, X: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _min_rows(self) -> tuple[int, str]:
        """Fewest training rows the detector learns from, and why (for the error message)."""
        return 1, ""

    def fit(self, X: ArrayLike, y: Any = None) -> Detector:
        """Learn normal behaviour from ``X`` (``y`` is ignored: training data is normal)."""
        if hasattr(X, "columns"):
            self.feature_names_in_ = np.asarray([str(c) for c in X.columns], dtype=object)
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        matrix = as_matrix(X)
        need, why = self._min_rows()
        if matrix.shape[0] < need:
            raise ValueError(
                f"{type(self).__name__} needs at least {need} training rows{why}, "
                f"got n_samples = {matrix.shape[0]}"
            )
        self.n_features_in_ = matrix.shape[1]
        self._fit(matrix)
        self.threshold_ = self._calibrate(self._score(matrix))
        return self

    def _calibrate(self, train_scores: np.ndarray) -> float:
        """The alarm threshold, calibrated on the training scores.

        The ``quantile`` of the training scores, widened by ``margin − 1`` times its distance
        from their median (so ``margin`` means the same whatever the scores' offset and sign).
        Subclasses whose scores have a natural limit (a control limit, a z value) override it.
        """
        upper = float(np.quantile(train_scores, self.quantile))
        median = float(np.median(train_scores))
        return upper + (self.margin - 1.0) * (upper - median)

    def score_samples(self, X: ArrayLike) -> np.ndarray:
        """Anomaly score of every row (higher = more anomalous); alarms where > ``threshold_``."""
        check_is_fitted(self, "threshold_")
        return self._score(as_matrix(X, self))

    def score_matrix(self, X: np.ndarray) -> np.ndarray:
        """:meth:`score_samples` of a float64 matrix already checked by the caller (finite,
        ``n_features_in_`` columns), without validating it again: for live loops that score
        many small matrices, where the checks cost more than the scoring.
        """
        return self._score(X)

    def decision_function(self, X: ArrayLike) -> np.ndarray:
        """``score_samples(X) − threshold_``: positive where a point alarms before filtering."""
        return self.score_samples(X) - self.threshold_

    def predict(self, X: ArrayLike) -> np.ndarray:
        """0/1 alarms: score above ``threshold_``, kept only in runs of ``min_duration``."""
        alarms = (self.score_samples(X) > self.threshold_).astype(np.int8)
        return min_duration_filter(alarms, self.min_duration)

    def fit_predict(self, X: ArrayLike, y: Any = None) -> np.ndarray:
        """``fit(X).predict(X)``."""
        return self.fit(X, y).predict(X)
