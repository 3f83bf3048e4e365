"""Electrical model: two phase currents of a three-phase motor, in A (true values, before the
ACS712 sensors of :mod:`simulator._sensors`).

``I_run = L · I_rated · (1 + 0.08 · D)`` while running (``D`` = wear damage: friction draws more
current), plus an overload ``I_run += s_ov · max(0, 13.5 A − I_run)`` (severity 1 → 13.5 A, above
the 10 A overload limit). A start is an inrush ``× (1 + 1.2 · e^(−Δt / 0.4 s))``, limited to
9 A by the soft starter (never below the running current). Phase ``k`` carries
``I_k = I · (1 + ε_k)`` with a per-device asymmetry ``ε_k`` (±2 %); a phase-imbalance fault of
severity ``s`` raises phase 1 by 15 %·s and lowers phase 2 by 50 %·s.

Examples
--------
>>> i1, i2 = phase_currents(0.8, 5.0, 0.0, 0.0, 60.0, 0.0, 0.0, 0.0)
>>> round(i1, 6), round(i2, 6)
(4.0, 4.0)
>>> phase_currents(0.8, 5.0, 0.0, 1.0, 60.0, 0.0, 0.0, 0.0)[0] > 10.0  # overload
True
"""

from __future__ import annotations

import math

from numba import njit

__all__ = [
    "INRUSH_GAIN",
    "INRUSH_SETTLED_S",
    "INRUSH_TAU_S",
    "OVERLOAD_TARGET_A",
    "SOFT_START_LIMIT_A",
    "phase_currents",
]

#: Peak inrush is (1 + INRUSH_GAIN) × the running current.
INRUSH_GAIN = 1.2
#: Inrush decay time constant, s.
INRUSH_TAU_S = 0.4
#: The soft starter limits start-up current to this, A.
SOFT_START_LIMIT_A = 9.0
#: After this long the inrush term ``1 + 1.2 e^(−Δt/τ)`` rounds to exactly 1.0 (``e^(−37.5)`` is
#: below half a float64 ulp of 1), so it is not computed, s.
INRUSH_SETTLED_S = 37.5 * INRUSH_TAU_S
#: Current an overload of severity 1 drives the motor to, A.
OVERLOAD_TARGET_A = 13.5
#: Extra current per unit of wear damage (friction), fraction of the running current.
WEAR_CURRENT_GAIN = 0.08
_PHASE_UP = 0.15
_PHASE_DOWN = 0.5


@njit(cache=True)
def phase_currents(
    load: float,
    rated_a: float,
    damage: float,
    overload: float,
    since_on_s: float,
    phase_imbalance: float,
    asym_1: float,
    asym_2: float,
) -> tuple[float, float]:
    """True phase currents (A) for a running motor; ``load = 0`` means stopped (0 A)."""
    if load <= 0.0:
        return 0.0, 0.0
    running = load * rated_a * (1.0 + WEAR_CURRENT_GAIN * damage)
    running += overload * max(0.0, OVERLOAD_TARGET_A - running)
    current = running
    if since_on_s < INRUSH_SETTLED_S:
        current *= 1.0 + INRUSH_GAIN * math.exp(-since_on_s / INRUSH_TAU_S)
    current = min(current, max(SOFT_START_LIMIT_A, running))
    i1 = current * (1.0 + asym_1 + _PHASE_UP * phase_imbalance)
    i2 = current * (1.0 + asym_2 - _PHASE_DOWN * phase_imbalance)
    return i1, i2
