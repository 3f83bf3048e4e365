"""Load profiles: what fraction of its rated load a motor drives at time t.

Four profiles, chosen per device from the scenario's weights:

``steady``
    ``L = base · (1 + 0.04 · sin(2π (t + φ) / P))`` — a slow ±4 % wander.
``cyclic``
    ``L = base · (1 + amp · sin(2π (t + φ) / P))`` — a machine cycle of period P.
``random``
    piecewise constant: segment ``s = ⌊(t + φ) / P⌋`` runs at ``base · (0.6 + 0.7 · u_s)`` with
    ``u_s`` uniform from the device's counter-based noise.
``start_stop``
    on for ``duty · P`` of every period P at ``base``, then off (``L = 0``): every start is an
    inrush (see :mod:`simulator._electrical`).

Examples
--------
>>> import numpy as np
>>> load_fraction(PROFILE_START_STOP, 0.8, 0.0, 100.0, 0.0, 0.5, np.uint64(1), 70.0)
0.0
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from simulator._noise import uniform
from simulator._trig import sin_turns

__all__ = [
    "PROFILES",
    "PROFILE_CYCLIC",
    "PROFILE_RANDOM",
    "PROFILE_START_STOP",
    "PROFILE_STEADY",
    "load_fraction",
]

PROFILE_STEADY = 0
PROFILE_CYCLIC = 1
PROFILE_RANDOM = 2
PROFILE_START_STOP = 3
#: Profile names as scenarios spell them, by code.
PROFILES = ("steady", "cyclic", "random", "start_stop")
_STREAM_SEGMENT = 40


@njit(cache=True, error_model="numpy", inline="always")
def load_fraction(
    profile: int,
    base: float,
    amp: float,
    period_s: float,
    phase_s: float,
    duty: float,
    key: np.uint64,
    t: float,
) -> float:
    """Load as a fraction of rated load (0 = motor stopped) at sim time ``t`` (s).

    Every profile is evaluated and ``profile`` selects one, without branches: the kernel calls
    this for a whole block of devices at once, as vectors.
    """
    cycles = (t + phase_s) / period_s
    segment = math.floor(cycles)
    wave = base * (1.0 + (amp if profile == PROFILE_CYCLIC else 0.04) * sin_turns(cycles))
    steps = base * (0.6 + 0.7 * uniform(key, segment, _STREAM_SEGMENT))
    on_off = base if cycles - segment < duty else 0.0
    if profile == PROFILE_RANDOM:
        return steps
    if profile == PROFILE_START_STOP:
        return on_off
    return wave
