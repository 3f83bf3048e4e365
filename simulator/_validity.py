"""Which telemetry readings break the message contract's value ranges, and at which check first.

The contract (``modax.schema.decode``) checks, in this order, ``motor_currents[0..1]``,
``vibration.x/y/z``, ``vibration.magnitude`` and ``temperatures[0..1]`` against the sensor
ranges, and rejects a message at the first value outside (NaN included). :func:`first_invalid`
finds that check for every reading in one pass, so the batch tables drop corrupt readings without
encoding them, and the quarantine decodes one payload per distinct failure to learn its reason.

Examples
--------
>>> import numpy as np
>>> ok = np.array([1.0, -1.0])
>>> first_invalid(ok, ok, ok, ok, ok, ok + 1, np.array([20.0, -127.0]), ok).tolist()
[-1, 6]
>>> CHECKS[6]
'temp_1'
"""

from __future__ import annotations

import numpy as np
from numba import njit

from modax.schema import CURRENT_LIMIT_A, TEMPERATURE_RANGE_C, VIBRATION_LIMIT_MS2

__all__ = ["CHECKS", "first_invalid"]

#: Telemetry columns in the contract's order of checks.
CHECKS = ("current_1", "current_2", "vib_x", "vib_y", "vib_z", "vib_mag", "temp_1", "temp_2")
_LOW = (
    -CURRENT_LIMIT_A,
    -CURRENT_LIMIT_A,
    -VIBRATION_LIMIT_MS2,
    -VIBRATION_LIMIT_MS2,
    -VIBRATION_LIMIT_MS2,
    0.0,
    TEMPERATURE_RANGE_C[0],
    TEMPERATURE_RANGE_C[0],
)
_HIGH = (
    CURRENT_LIMIT_A,
    CURRENT_LIMIT_A,
    VIBRATION_LIMIT_MS2,
    VIBRATION_LIMIT_MS2,
    VIBRATION_LIMIT_MS2,
    2.0 * VIBRATION_LIMIT_MS2,
    TEMPERATURE_RANGE_C[1],
    TEMPERATURE_RANGE_C[1],
)


@njit(cache=True)
def _inside(value: float, check: int) -> bool:
    return _LOW[check] <= value <= _HIGH[check]  # false for NaN


@njit(cache=True)
def first_invalid(
    c1: np.ndarray,
    c2: np.ndarray,
    vx: np.ndarray,
    vy: np.ndarray,
    vz: np.ndarray,
    vmag: np.ndarray,
    t1: np.ndarray,
    t2: np.ndarray,
) -> np.ndarray:
    """Per reading: −1 if every value is in range, else the index in :data:`CHECKS` of the first
    value the contract rejects (int8).
    """
    out = np.empty(len(c1), np.int8)
    for i in range(len(c1)):
        if not _inside(c1[i], 0):
            out[i] = 0
        elif not _inside(c2[i], 1):
            out[i] = 1
        elif not _inside(vx[i], 2):
            out[i] = 2
        elif not _inside(vy[i], 3):
            out[i] = 3
        elif not _inside(vz[i], 4):
            out[i] = 4
        elif not _inside(vmag[i], 5):
            out[i] = 5
        elif not _inside(t1[i], 6):
            out[i] = 6
        elif not _inside(t2[i], 7):
            out[i] = 7
        else:
            out[i] = -1
    return out
