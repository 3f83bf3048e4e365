"""Scores of remaining-useful-life predictions: RMSE and the asymmetric NASA (PHM08) score.

Both take the error ``d = predicted − true`` in cycles (or hours). The NASA score punishes late
predictions (``d > 0``, the machine fails before the forecast) harder than early ones:
``s = exp(−d/13) − 1`` for ``d < 0`` and ``exp(d/10) − 1`` for ``d ≥ 0``, summed over units.

Examples
--------
>>> rmse([10, 20], [12, 18])
2.0
>>> round(nasa_score([10, 10], [0, 20]), 3)  # 10 early costs less than 10 late
2.876
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["nasa_score", "rmse", "rul_scores"]


def _errors(y_true: ArrayLike, y_pred: ArrayLike) -> np.ndarray:
    true = np.asarray(y_true, dtype=float).ravel()
    pred = np.asarray(y_pred, dtype=float).ravel()
    if true.shape != pred.shape:
        raise ValueError(f"y_pred: {pred.size} predictions for {true.size} true values")
    if true.size == 0:
        raise ValueError("y_true: no values to score")
    if not (np.isfinite(true).all() and np.isfinite(pred).all()):
        raise ValueError("y_true/y_pred: values must be finite")
    return pred - true


def rmse(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Root mean squared error, in the unit of the inputs (cycles)."""
    d = _errors(y_true, y_pred)
    return float(np.sqrt(np.mean(d * d)))


def nasa_score(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """The PHM08 asymmetric score, a sum over units (lower is better; 0 is perfect)."""
    d = _errors(y_true, y_pred)
    return float(np.sum(np.where(d < 0, np.expm1(-d / 13.0), np.expm1(d / 10.0))))


def rul_scores(
    y_true: ArrayLike, y_pred: ArrayLike, *, cap: float | None = 125.0
) -> dict[str, float]:
    """The C-MAPSS protocol's three figures for predictions at the last cycle of each unit.

    Parameters
    ----------
    y_true : array-like
        True remaining life (cycles), unclipped.
    y_pred : array-like
        Predicted remaining life (cycles).
    cap : float or None
        The training labels' cap; ``rmse`` and ``nasa_score`` compare against the truth clipped at
        it (the common convention), ``rmse_unclipped`` against the raw truth.

    Returns
    -------
    dict
        ``rmse``, ``rmse_unclipped`` and ``nasa_score``.
    """
    true = np.asarray(y_true, dtype=float)
    clipped = true if cap is None else np.minimum(true, cap)
    return {
        "rmse": rmse(clipped, y_pred),
        "rmse_unclipped": rmse(true, y_pred),
        "nasa_score": nasa_score(clipped, y_pred),
    }
