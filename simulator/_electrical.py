"""Electrical model: two phase currents of a three-phase motor, in A (true values, before the
ACS712 sensors of :mod:`simulator._sensors`).

``I_run = L · I_rated · (1 + 0.08 · D)`` while running (``D`` = wear damage: friction draws more
current), plus an overload ``I_run += s_ov · max(0, 13.5 A − I_run)`` (severity 1 → 13.5 A, above
the 10 A overload limit). A start is an inrush ``× (1 + 1.2 · e^(−Δt / 0.4 s))``, limited to
9 A by the soft starter (never below the running current); ``Δt`` is counted in 50 ms steps and
the factor read from a table (:data:`INRUSH`). Phase ``k`` carries
``I_k = I · (1 + ε_k)`` with a per-device asymmetry ``ε_k`` (±2 %); a phase-imbalance fault of
severity ``s`` raises phase 1 by 15 %·s and lowers phase 2 by 50 %·s.

Examples
--------
>>> i1, i2 = phase_currents(0.8, 5.0, 0.0, 0.0, 1200, 0.0, 0.0, 0.0)
>>> round(i1, 6), round(i2, 6)
(4.0, 4.0)
>>> phase_currents(0.8, 5.0, 0.0, 1.0, 1200, 0.0, 0.0, 0.0)[0] > 10.0  # overload
True
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = [
    "INRUSH",
    "INRUSH_GAIN",
    "INRUSH_TAU_S",
    "OVERLOAD_TARGET_A",
    "SOFT_START_LIMIT_A",
    "STEP_S",
    "phase_currents",
]

#: Peak inrush is (1 + INRUSH_GAIN) × the running current.
INRUSH_GAIN = 1.2
#: Inrush decay time constant, s.
INRUSH_TAU_S = 0.4
#: The soft starter limits start-up current to this, A.
SOFT_START_LIMIT_A = 9.0
#: The time step the inrush is counted in, s (the kernel's 20 Hz step).
STEP_S = 0.05
#: ``1 + 1.2 e^(−n·STEP_S/τ)`` for ``n`` steps since the start; from 300 steps (37.5 τ) on it
#: rounds to exactly 1.0 (``e^(−37.5)`` is below half a float64 ulp of 1): the last entry.
INRUSH = np.append(1.0 + INRUSH_GAIN * np.exp(-np.arange(300) * STEP_S / INRUSH_TAU_S), 1.0)
#: Current an overload of severity 1 drives the motor to, A.
OVERLOAD_TARGET_A = 13.5
#: Extra current per unit of wear damage (friction), fraction of the running current.
WEAR_CURRENT_GAIN = 0.08
_PHASE_UP = 0.15
_PHASE_DOWN = 0.5


@njit(cache=True, inline="always")
def phase_currents(
    load: float,
    rated_a: float,
    damage: float,
    overload: float,
    since_on_steps: int,
    phase_imbalance: float,
    asym_1: float,
    asym_2: float,
) -> tuple[float, float]:
    """True phase currents (A); ``load = 0`` means stopped (0 A).

    ``since_on_steps`` counts the :data:`STEP_S` steps since the motor last started (0 at the
    start). Branch-free (the kernel calls it for a block of devices at once, as vectors).
    """
    running = load * rated_a * (1.0 + WEAR_CURRENT_GAIN * damage)
    running += overload * max(0.0, OVERLOAD_TARGET_A - running)
    inrush = INRUSH[min(since_on_steps, len(INRUSH) - 1)]
    current = min(running * inrush, max(SOFT_START_LIMIT_A, running))
    i1 = current * (1.0 + asym_1 + _PHASE_UP * phase_imbalance)
    i2 = current * (1.0 + asym_2 - _PHASE_DOWN * phase_imbalance)
    if load <= 0.0:
        return 0.0, 0.0
    return i1, i2
