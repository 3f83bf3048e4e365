"""Vibration as the MPU6050 on the motor housing sees it, in m/s².

The rotor turns at ``f_rot`` (23.5–24.8 Hz, a 4-pole motor) with angle ``θ = 2π f_rot t``.
Sampled at 10 Hz, each component is an aliased sample of:

- ``x = a₁ sin θ + a₂ sin(2θ + φ₂) + a_b sin(b θ) + σ_m n_x``
- ``y = a₁ cos θ + 0.8 a₂ cos(2θ + φ₂) + a_b cos(b θ + 0.7) + σ_m n_y``
- ``z = g + 0.3 a₁ sin(θ + 1) + a_z sin 2θ + 0.5 a_b sin(b θ + 1.3) + 0.5 σ_m n_z``

with gravity ``g = 9.80665`` on z, the 1× (imbalance) amplitude ``a₁``, the 2× (misalignment)
amplitude ``a₂`` and its axial part ``a_z``, the bearing-defect amplitude ``a_b`` at the outer-race
frequency ``b · f_rot`` (b = 3.05–3.6) and broadband machine noise ``σ_m``. Faults and wear add to
them (see :func:`amplitudes`); a stopped motor has none. ``dynamic_mean_square`` is the true mean
square of the dynamic part ``|a − g ẑ|``: its root is the "vibration" of the MODAX stress factors.

Examples
--------
>>> a = amplitudes(True, 0.2, 0.1, 0.04, 0.0, 0.0, 0.0, 0.0)
>>> round(dynamic_mean_square(*a) ** 0.5, 3)  # healthy: well below 1 m/s²
0.29
>>> dynamic_mean_square(*amplitudes(True, 0.2, 0.1, 0.04, 0.0, 0.0, 1.0, 0.0)) > 3.0**2  # bearing
True
"""

from __future__ import annotations

import math

from numba import njit

from simulator._trig import sincos_turns

__all__ = ["GRAVITY_MS2", "amplitudes", "axes", "dynamic_mean_square"]

#: Standard gravity, m/s².
GRAVITY_MS2 = 9.80665
_IMBALANCE_GAIN = 2.5
_MISALIGN_GAIN = 2.0
_MISALIGN_AXIAL = 1.5
_BEARING_GAIN = 4.0
_WEAR_GAIN = 3.0
_NOISE_BASE = 0.12
# The fixed phase offsets of the y (0.7 rad) and z (1 rad, 1.3 rad) components, as cos / sin.
_COS_07, _SIN_07 = math.cos(0.7), math.sin(0.7)
_COS_1, _SIN_1 = math.cos(1.0), math.sin(1.0)
_COS_13, _SIN_13 = math.cos(1.3), math.sin(1.3)


@njit(cache=True, inline="always")
def amplitudes(
    running: bool,
    a1_base: float,
    a2_base: float,
    ab_base: float,
    imbalance: float,
    misalignment: float,
    bearing: float,
    damage: float,
) -> tuple[float, float, float, float, float]:
    """Component amplitudes ``(a₁, a₂, a_b, a_z, σ_m)`` in m/s² for fault severities and wear."""
    if not running:
        return 0.0, 0.0, 0.0, 0.0, 0.0
    worn = damage * damage
    return (
        a1_base + _IMBALANCE_GAIN * imbalance,
        a2_base + _MISALIGN_GAIN * misalignment,
        ab_base + _BEARING_GAIN * bearing + _WEAR_GAIN * worn,
        _MISALIGN_AXIAL * misalignment,
        _NOISE_BASE + 0.6 * bearing + 0.5 * worn,
    )


@njit(cache=True, inline="always")
def dynamic_mean_square(a1: float, a2: float, ab: float, az: float, sigma: float) -> float:
    """True mean square of the dynamic acceleration vector (gravity removed), (m/s²)²."""
    ex = 0.5 * (a1 * a1 + a2 * a2 + ab * ab) + sigma * sigma
    ey = 0.5 * (a1 * a1 + 0.64 * a2 * a2 + ab * ab) + sigma * sigma
    ez = 0.5 * (0.09 * a1 * a1 + az * az + 0.25 * ab * ab) + 0.25 * sigma * sigma
    return ex + ey + ez


@njit(cache=True, inline="always")
def axes(
    a1: float,
    a2: float,
    ab: float,
    az: float,
    sigma: float,
    turns: float,
    bpfo: float,
    cos_phi2: float,
    sin_phi2: float,
    nx: float,
    ny: float,
    nz: float,
) -> tuple[float, float, float]:
    """True acceleration ``(x, y, z)`` in m/s²; ``n*`` ~ N(0, 1).

    ``turns`` is the rotor angle in turns, ``θ = 2π · turns`` with ``turns`` in [0, 1);
    ``cos_phi2, sin_phi2`` are the cosine and sine of the 2× phase ``φ₂``. Two sine/cosine pairs
    (of ``θ`` and ``b θ``) give every component through the double-angle and angle-sum rules.
    """
    s1, c1 = sincos_turns(turns)
    s2 = 2.0 * s1 * c1
    c2 = c1 * c1 - s1 * s1
    sb, cb = sincos_turns(bpfo * turns)
    x = a1 * s1 + a2 * (s2 * cos_phi2 + c2 * sin_phi2) + ab * sb
    y = a1 * c1 + 0.8 * a2 * (c2 * cos_phi2 - s2 * sin_phi2) + ab * (cb * _COS_07 - sb * _SIN_07)
    z = (
        GRAVITY_MS2
        + 0.3 * a1 * (s1 * _COS_1 + c1 * _SIN_1)
        + az * s2
        + 0.5 * ab * (sb * _COS_13 + cb * _SIN_13)
    )
    return x + sigma * nx, y + sigma * ny, z + 0.5 * sigma * nz
