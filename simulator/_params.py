"""Per-device parameters: the fleet's variety, drawn from the seed.

Every device gets its own motor size, ambient temperature, load profile, thermal constants and
vibration signature from its counter-based key (:mod:`simulator._noise`), so device ``i`` is the
same machine whatever the size of the fleet. Ranges not set by the scenario:

======================  ===================  ==========================================
parameter               range                meaning
======================  ===================  ==========================================
winding τ               240–480 s            thermal time constant (housing: 1.6 ×)
rise at rated current   25–40 °C             steady winding rise at 100 % I²R loss
rotation frequency      23.5–24.8 Hz         4-pole motor, 1410–1490 rpm
bearing defect ratio    3.05–3.6             outer-race frequency / rotation frequency
1× / 2× / bearing base  0.15–0.3 / 0.06–0.15 / 0.02–0.06 m/s²   healthy vibration
phase asymmetry         ±2 %                 per phase
load period             steady 300–900 s, cyclic 30–180 s, random segments 20–120 s,
                        start-stop 60–300 s (on for 40–80 % of it)
cyclic amplitude        15–35 %
safety thresholds       ``DEFAULT_SAFETY``   the firmware's overload (A) and temperature
                                             (°C) limits; a live twin changes them by command
======================  ===================  ==========================================

Examples
--------
>>> from simulator._noise import device_keys
>>> from simulator._scenario import Scenario
>>> p = device_params(device_keys(1, 3), Scenario.load("healthy"), dt_s=0.05)
>>> p.shape == (3, N_PARAMS)
True
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from modax.schema import DEFAULT_SAFETY
from simulator._load import PROFILES
from simulator._noise import uniform
from simulator._scenario import Scenario

__all__ = ["N_PARAMS", "P_LOAD", "P_MAX_TEMP_C", "P_OVERLOAD_A", "device_params"]

(
    P_RATED,
    P_AMBIENT,
    P_LOAD,
    P_AMP,
    P_PERIOD,
    P_PHASE,
    P_DUTY,
    P_PROFILE,
    P_RISE,
    P_AW,
    P_AB,
    P_FROT,
    P_BPFO,
    P_PHI2,
    P_A1,
    P_A2,
    P_AB0,
    P_ASYM1,
    P_ASYM2,
    P_DAMAGE0,
    P_OVERLOAD_A,
    P_MAX_TEMP_C,
    N_PARAMS,
) = range(23)
_STREAM_PARAMS = 1000
_PERIODS = ((300.0, 900.0), (30.0, 180.0), (20.0, 120.0), (60.0, 300.0))


@njit(cache=True)
def _uniforms(keys: np.ndarray, n: int) -> np.ndarray:
    out = np.empty((len(keys), n))
    for d in range(len(keys)):
        for j in range(n):
            out[d, j] = uniform(keys[d], j, _STREAM_PARAMS)
    return out


def device_params(keys: np.ndarray, scenario: Scenario, dt_s: float) -> np.ndarray:
    """The ``(n_devices, N_PARAMS)`` parameter matrix for devices with ``keys``.

    Parameters
    ----------
    keys : numpy.ndarray of uint64
        Device keys (:func:`simulator._noise.device_keys`).
    scenario : Scenario
        Ranges for rated current, ambient, load and initial damage; load-profile weights.
    dt_s : float
        Physics step, s (for the thermal decay factors).
    """
    u = _uniforms(keys, N_PARAMS)

    def between(j: int, lo: float, hi: float) -> np.ndarray:
        return lo + (hi - lo) * u[:, j]

    p = np.empty((len(keys), N_PARAMS))
    p[:, P_RATED] = between(P_RATED, *scenario.rated_current_a)
    p[:, P_AMBIENT] = between(P_AMBIENT, *scenario.ambient_c)
    p[:, P_LOAD] = between(P_LOAD, *scenario.load_fraction)
    p[:, P_AMP] = between(P_AMP, 0.15, 0.35)
    weights = np.array([scenario.load_profiles.get(name, 0.0) for name in PROFILES])
    edges = np.cumsum(weights) / weights.sum()
    profile = np.minimum(np.searchsorted(edges, u[:, P_PROFILE], side="right"), len(PROFILES) - 1)
    p[:, P_PROFILE] = profile
    lows = np.array([lo for lo, _ in _PERIODS])[profile]
    highs = np.array([hi for _, hi in _PERIODS])[profile]
    p[:, P_PERIOD] = lows + (highs - lows) * u[:, P_PERIOD]
    p[:, P_PHASE] = u[:, P_PHASE] * p[:, P_PERIOD]
    p[:, P_DUTY] = between(P_DUTY, 0.4, 0.8)
    p[:, P_RISE] = between(P_RISE, 25.0, 40.0)
    tau = between(P_AW, 240.0, 480.0)
    p[:, P_AW] = np.exp(-dt_s / tau)
    p[:, P_AB] = np.exp(-dt_s / (1.6 * tau))
    p[:, P_FROT] = between(P_FROT, 23.5, 24.8)
    p[:, P_BPFO] = between(P_BPFO, 3.05, 3.6)
    p[:, P_PHI2] = between(P_PHI2, 0.0, 2.0 * math.pi)
    p[:, P_A1] = between(P_A1, 0.15, 0.3)
    p[:, P_A2] = between(P_A2, 0.06, 0.15)
    p[:, P_AB0] = between(P_AB0, 0.02, 0.06)
    p[:, P_ASYM1] = between(P_ASYM1, -0.02, 0.02)
    p[:, P_ASYM2] = between(P_ASYM2, -0.02, 0.02)
    p[:, P_DAMAGE0] = between(P_DAMAGE0, *scenario.initial_damage)
    p[:, P_OVERLOAD_A] = DEFAULT_SAFETY.overload_current_a
    p[:, P_MAX_TEMP_C] = DEFAULT_SAFETY.max_temperature_c
    return p
