"""Thermal model: two first-order RC nodes, the winding (``temp_1``) and the bearing housing
(``temp_2``), in °C.

Per step of ``dt`` the exact discretisation of ``τ dT/dt = T_ss − T`` is
``T ← T_ss + (T − T_ss) · a`` with ``a = e^(−dt/τ)``, where

- winding: ``T_ss,w = T_amb + R · p · (1 + 2.5 · s_cool) + 0.3 · (T_b − T_amb)``, with
  ``p = (I_1² + I_2²) / (2 I_rated²)`` the per-unit I²R loss, ``R`` the rise at rated current
  (25–40 °C) and ``s_cool`` the severity of a cooling failure (overheating fault);
- bearing: ``T_ss,b = T_amb + 0.45 · (T_w − T_amb) + F``, with ``F`` the friction heating of
  :func:`friction_rise`.

Winding time constants are 4–8 min (IEC 60034-11: healthy windings heat over minutes), the
housing's 1.6 × that. A thermal cut-out stops the motor at 115 °C and lets it restart below 95 °C.

Examples
--------
>>> tw, tb = thermal_step(40.0, 30.0, 25.0, 30.0, 0.999, 0.999, 5.0, 5.0, 5.0, 0.0, 2.0)
>>> tw > 40.0  # heating towards 25 + 30 + 0.3·5 = 56.5 °C
True
"""

from __future__ import annotations

from numba import njit

__all__ = [
    "COOLING_FAILURE_GAIN",
    "CUTOUT_RESET_C",
    "CUTOUT_TRIP_C",
    "friction_rise",
    "thermal_step",
]

#: A cooling failure of severity 1 multiplies the winding's thermal resistance by 1 + this.
COOLING_FAILURE_GAIN = 2.5
#: The motor's thermal cut-out opens at this winding temperature, °C ...
CUTOUT_TRIP_C = 115.0
#: ... and closes again below this, °C.
CUTOUT_RESET_C = 95.0
_W_FROM_B = 0.3
_B_FROM_W = 0.45


@njit(cache=True, inline="always")
def friction_rise(
    running: bool, damage: float, bearing: float, misalignment: float, imbalance: float
) -> float:
    """Steady bearing-housing heating from friction, °C: worn or faulty bearings run hotter."""
    if not running:
        return 0.0
    return 2.0 + 10.0 * damage * damage + 6.0 * bearing + 3.0 * misalignment + 2.0 * imbalance


@njit(cache=True, error_model="numpy", inline="always")
def thermal_step(
    t_winding: float,
    t_bearing: float,
    ambient_c: float,
    rise_c: float,
    a_winding: float,
    a_bearing: float,
    i1: float,
    i2: float,
    rated_a: float,
    cooling_failure: float,
    friction_c: float,
) -> tuple[float, float]:
    """Advance both temperatures (°C) by one step; ``a_*`` are the ``e^(−dt/τ)`` factors.

    The two updates (winding first, then the bearing from the new winding temperature) are one
    linear map of ``(T_w, T_b)``, evaluated as such: both new temperatures depend on the old ones
    only, so the step's dependency chain is a multiply and two adds long.
    """
    losses = (i1 * i1 + i2 * i2) / (2.0 * rated_a * rated_a)
    heat_w = rise_c * losses * (1.0 + COOLING_FAILURE_GAIN * cooling_failure)
    # T_w' = a_w T_w + g_w T_b + d_w and T_b' = a_b T_b + g_b T_w' + d_b
    g_w = _W_FROM_B * (1.0 - a_winding)
    d_w = (1.0 - a_winding) * ((1.0 - _W_FROM_B) * ambient_c + heat_w)
    g_b = _B_FROM_W * (1.0 - a_bearing)
    d_b = (1.0 - a_bearing) * ((1.0 - _B_FROM_W) * ambient_c + friction_c)
    new_winding = a_winding * t_winding + g_w * t_bearing + d_w
    new_bearing = (
        (a_bearing + g_b * g_w) * t_bearing + g_b * a_winding * t_winding + (g_b * d_w + d_b)
    )
    return new_winding, new_bearing
