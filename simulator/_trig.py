"""Sine and cosine of an angle given in turns (1 turn = 2π rad), in plain arithmetic.

Every angle in the twin is naturally a number of turns (rotor revolutions, load cycles), so the
argument reduction is exact: subtract the nearest quarter turn, then evaluate fdlibm's minimax
polynomials (``__kernel_sin`` / ``__kernel_cos``, error below 1 ulp on ``|a| ≤ π/4``). It is
several times faster than libm's ``sin``/``cos`` in numba and, being only ``+ − × floor``, gives
the same bits in the numba kernel and its plain-Python twin.

Examples
--------
>>> s, c = sincos_turns(0.125)  # 45°
>>> abs(s - 0.5**0.5) < 1e-15 and abs(c - 0.5**0.5) < 1e-15
True
>>> sincos_turns(-0.25), sin_turns(-0.25)
((-1.0, 0.0), -1.0)
"""

from __future__ import annotations

import math

from numba import njit

__all__ = ["sin_turns", "sincos_turns"]

_TWO_PI = 2.0 * math.pi
_S1 = -1.66666666666666324348e-01
_S2 = 8.33333333332248946124e-03
_S3 = -1.98412698298579493134e-04
_S4 = 2.75573137070700676789e-06
_S5 = -2.50507602534068634195e-08
_S6 = 1.58969099521155010221e-10
_C1 = 4.16666666666666019037e-02
_C2 = -1.38888888888741095749e-03
_C3 = 2.48015872894767294178e-05
_C4 = -2.75573143513906633035e-07
_C5 = 2.08757232129817482790e-09
_C6 = -1.13596475577881948265e-11


@njit(cache=True, inline="always")
def _reduce(turns: float) -> tuple[float, int]:
    """``turns`` as an angle in [−π/4, π/4] (rad) plus a number of quarter turns (0–3)."""
    quarter = math.floor(4.0 * turns + 0.5)
    return (turns - 0.25 * quarter) * _TWO_PI, quarter & 3


@njit(cache=True, inline="always")
def _sin(a: float) -> float:
    z = a * a
    return a + a * z * (_S1 + z * (_S2 + z * (_S3 + z * (_S4 + z * (_S5 + z * _S6)))))


@njit(cache=True, inline="always")
def _cos(a: float) -> float:
    z = a * a
    return 1.0 - 0.5 * z + z * z * (_C1 + z * (_C2 + z * (_C3 + z * (_C4 + z * (_C5 + z * _C6)))))


@njit(cache=True, inline="always")
def sincos_turns(turns: float) -> tuple[float, float]:
    """``(sin 2πx, cos 2πx)`` for ``x = turns`` (any finite value; exact below 2⁵⁰ turns)."""
    a, q = _reduce(turns)
    s = _sin(a)
    c = _cos(a)
    odd = q & 1 == 1  # quarter turns by selection, not branches (the quadrant is unpredictable)
    sine = c if odd else s
    cosine = s if odd else c
    return (-sine if q >= 2 else sine), (-cosine if 0 < q < 3 else cosine)


@njit(cache=True, inline="always")
def sin_turns(turns: float) -> float:
    """``sin 2πx`` for ``x = turns``: :func:`sincos_turns`'s sine.

    Both polynomials are evaluated and the quadrant selects one, without branches, so that a
    loop over many angles vectorises.
    """
    return sincos_turns(turns)[0]
