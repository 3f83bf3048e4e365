"""Score a fitted remaining-life model the C-MAPSS way: at the last time of each unit.

Used by ``modax eval cmapss`` and ``modax eval sim --scenario run-to-failure``.

Examples
--------
>>> scores = evaluate_rul(model, test_histories, true_rul)  # doctest: +SKIP
>>> sorted(scores)  # doctest: +SKIP
['nasa_score', 'rmse', 'rmse_unclipped']
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from modax.models.rul_metrics import rul_scores
from modax.models.wear.target import DEFAULT_CAP

__all__ = ["evaluate_rul", "last_rows"]


def last_rows(X: pd.DataFrame, unit_col: str = "unit", time_col: str = "cycle") -> np.ndarray:
    """Positions (iloc) of each unit's latest row, units in sorted order."""
    frame = pd.DataFrame({"u": X[unit_col].to_numpy(), "t": X[time_col].to_numpy()})
    frame["pos"] = np.arange(len(frame))
    return frame.sort_values(["u", "t"]).groupby("u", sort=True)["pos"].last().to_numpy()


def evaluate_rul(
    model: object,
    X: pd.DataFrame,
    y: ArrayLike,
    *,
    cap: float | None = DEFAULT_CAP,
    unit_col: str = "unit",
    time_col: str = "cycle",
) -> dict[str, float]:
    """RMSE, unclipped RMSE and NASA score of ``model`` at the last row of each unit of ``X``.

    Parameters
    ----------
    model : fitted estimator
        Anything with ``predict(X)`` returning one remaining life per row of ``X``.
    X : pandas.DataFrame
        Histories of the units to score (all their rows: the features look back).
    y : array-like
        True remaining life at each unit's last row, units in sorted order (as ``RUL_FD00x``).
    cap : float or None
        Cap applied to the truth for ``rmse`` and ``nasa_score``.
    """
    last = last_rows(X, unit_col, time_col)
    truth = np.asarray(y, dtype=float).ravel()
    if len(truth) != len(last):
        raise ValueError(f"y: {len(truth)} remaining lives for {len(last)} units in X")
    predicted = np.asarray(model.predict(X), dtype=float)[last]
    return rul_scores(truth, predicted, cap=cap)
