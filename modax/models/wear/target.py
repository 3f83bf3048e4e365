"""Remaining-life labels: cycles to failure of run-to-failure data and the piecewise-linear cap.

Early in life a machine shows no sign of wear, so no model can tell 300 cycles left from 200; the
common remedy clips the label at a constant (125 cycles on C-MAPSS): the target is flat while the
machine is healthy, then falls linearly to 0 at failure.

Examples
--------
>>> run_to_failure_rul([1, 1, 1, 2, 2], [1, 2, 3, 1, 2]).tolist()
[2, 1, 0, 1, 0]
>>> piecewise_linear_rul([300, 125, 40], cap=125).tolist()
[125.0, 125.0, 40.0]
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

__all__ = ["DEFAULT_CAP", "piecewise_linear_rul", "run_to_failure_rul"]

#: The most common cap of the C-MAPSS literature (cycles).
DEFAULT_CAP = 125.0


def run_to_failure_rul(units: ArrayLike, cycles: ArrayLike) -> np.ndarray:
    """Cycles left until the last recorded cycle of each unit (which is its failure)."""
    frame = pd.DataFrame({"unit": np.asarray(units), "cycle": np.asarray(cycles)})
    return (frame.groupby("unit")["cycle"].transform("max") - frame["cycle"]).to_numpy()


def piecewise_linear_rul(rul: ArrayLike, cap: float | None = DEFAULT_CAP) -> np.ndarray:
    """Clip remaining life at ``cap`` (no clipping when ``cap`` is None)."""
    values = np.asarray(rul, dtype=float)
    return values if cap is None else np.minimum(values, cap)
