"""Which telemetry readings break the message contract's value ranges, and at which check first.

The contract (``modax.schema.decode``) checks, in this order, ``motor_currents[0..1]``,
``vibration.x/y/z``, ``vibration.magnitude`` and ``temperatures[0..1]`` against the sensor
ranges, and rejects a message at the first value outside (NaN included). :func:`reading_check`
finds that check for a reading (the physics kernel records it for every reading it reports),
so the batch tables drop corrupt readings without encoding them, and the quarantine decodes one
payload per distinct failure to learn its reason.

Examples
--------
>>> reading_check(1.0, 1.0, 1.0, 1.0, 1.0, 2.0, 20.0, 1.0)
-1
>>> CHECKS[reading_check(1.0, 1.0, 1.0, 1.0, 1.0, 2.0, -127.0, 1.0)]
'temp_1'
"""

from __future__ import annotations

from numba import njit

from modax.schema import CURRENT_LIMIT_A, TEMPERATURE_RANGE_C, VIBRATION_LIMIT_MS2

__all__ = ["CHECKS", "reading_check"]

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


@njit(cache=True, inline="always")
def _check(value: float, check: int, found: int) -> int:
    """``check`` if ``value`` is outside its range (or NaN), else ``found``."""
    return found if _LOW[check] <= value <= _HIGH[check] else check


@njit(cache=True, inline="always")
def reading_check(
    c1: float, c2: float, vx: float, vy: float, vz: float, vmag: float, t1: float, t2: float
) -> int:
    """−1 if every value of one reading is in range, else the index in :data:`CHECKS` of the
    first value the contract rejects.

    The checks run from the last to the first, each replacing the result where it fails, so the
    first failing one wins without branches (the physics kernel calls it for a block of devices
    at once, as vectors).
    """
    found = _check(t2, 7, -1)
    found = _check(t1, 6, found)
    found = _check(vmag, 5, found)
    found = _check(vz, 4, found)
    found = _check(vy, 3, found)
    found = _check(vx, 2, found)
    found = _check(c2, 1, found)
    return _check(c1, 0, found)
