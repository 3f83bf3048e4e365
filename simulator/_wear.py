"""Wear: cumulative damage ``D`` from 0 (new) to 1 (failure), driven by the MODAX stress factors.

``dD/dt = A · f / (10 000 h · 3600 s/h)`` while the motor runs, with the acceleration factor
``A`` of the scenario (1 = real time; ``run-to-failure`` uses thousands so a motor wears out in
about a simulated hour) and the multiplicative stress factor ``f`` of the MODAX wear predictor,
evaluated on the true (noise-free) state every 50 ms:

============================  ==============================================  =================
condition                     factor                                          MODAX constant
============================  ==============================================  =================
mean phase current > 5 A      ``(I_mean / 5)^1.5``                            load, exponent 1.5
max phase current > 8 A       ``1.1 + 0.05 · (I_max − 8)``                    current spikes
dynamic vibration > 3 m/s²    ``1 + 0.15 · (v − 3)``                          vibration
dynamic vibration > 1 m/s²    ``1.15``                                        vibration variability
max temperature > 50 °C       ``1 + 0.02 · (T_max − 50)``                     temperature
``|T_w − T̄_w| > 15 °C``       ``1.1``                                         thermal cycling
============================  ==============================================  =================

``v`` is the RMS of the dynamic acceleration (gravity removed; ``v²`` is :func:`dynamic_mean_square
<simulator._vibration.dynamic_mean_square>`); ``T̄_w`` is a 10-minute exponential average of the
winding temperature. Wear feeds back: it raises vibration, bearing temperature and current,
which raise ``f`` — degradation accelerates towards the end, as real bearings do. At ``D = 1``
the motor fails and stops.

Examples
--------
>>> stress_factor(4.0, 4.1, 0.3**2, 45.0, False)  # nominal conditions
1.0
>>> round(stress_factor(10.0, 10.0, 0.3**2, 45.0, False), 4)  # (10/5)^1.5 · (1.1 + 0.05·2)
3.3941
"""

from __future__ import annotations

import math

from numba import njit

__all__ = [
    "CURRENT_NORMAL_A",
    "CURRENT_SPIKE_A",
    "CYCLING_C",
    "NOMINAL_LIFE_S",
    "TEMPERATURE_NORMAL_C",
    "VIBRATION_NORMAL_MS2",
    "stress_factor",
]

#: Nominal life at factor 1: 10 000 h, in s.
NOMINAL_LIFE_S = 10_000.0 * 3600.0
CURRENT_NORMAL_A = 5.0
CURRENT_SPIKE_A = 8.0
SPIKE_BASE = 1.1
SPIKE_PER_A = 0.05
VIBRATION_NORMAL_MS2 = 3.0
VIBRATION_PER_MS2 = 0.15
VIBRATION_STD_MS2 = 1.0
VIBRATION_STD_FACTOR = 1.15
TEMPERATURE_NORMAL_C = 50.0
TEMPERATURE_PER_C = 0.02
CYCLING_C = 15.0
CYCLING_FACTOR = 1.1
#: Time constant of the mean winding temperature that thermal cycling is judged against, s.
CYCLING_TAU_S = 600.0


@njit(cache=True, inline="always")
def stress_factor(
    i_mean: float, i_max: float, vibration_sq: float, t_max: float, cycling: bool
) -> float:
    """The MODAX multiplicative wear-rate factor (1 = nominal) for one instant.

    ``vibration_sq`` is ``v²``, the mean square of the dynamic acceleration ((m/s²)²): the
    thresholds compare squares. Every factor is evaluated and multiplied in only where its
    condition holds (× 1.0 elsewhere, exactly), without branches, so that the kernel's loop over
    a block of devices vectorises.
    """
    ratio = i_mean / CURRENT_NORMAL_A
    load = ratio * math.sqrt(ratio)  # ratio ** 1.5, without pow
    spike = SPIKE_BASE + SPIKE_PER_A * (i_max - CURRENT_SPIKE_A)
    vibration = 1.0 + VIBRATION_PER_MS2 * (math.sqrt(vibration_sq) - VIBRATION_NORMAL_MS2)
    heat = 1.0 + TEMPERATURE_PER_C * (t_max - TEMPERATURE_NORMAL_C)
    f = load if i_mean > CURRENT_NORMAL_A else 1.0
    f *= spike if i_max > CURRENT_SPIKE_A else 1.0
    f *= vibration if vibration_sq > VIBRATION_NORMAL_MS2 * VIBRATION_NORMAL_MS2 else 1.0
    f *= VIBRATION_STD_FACTOR if vibration_sq > VIBRATION_STD_MS2 * VIBRATION_STD_MS2 else 1.0
    f *= heat if t_max > TEMPERATURE_NORMAL_C else 1.0
    f *= CYCLING_FACTOR if cycling else 1.0
    return f
