"""One 20 Hz step of a block of devices, stage by stage: the physics kernel's parts.

A block's state, parameters, fault modifiers and reported values live in ``(n, BLOCK)`` rows
(``S_*``, ``P_*``, ``M_*``, ``R_*``: the rows' meanings). A stage that loops over the block's
devices is branch-free, so that LLVM vectorises it across devices; a stage that runs only for
the few devices with a fault or a failure is a scalar pass over just them. Every stage is
inlined into :func:`simulator._kernel.simulate_chunk` at the numba-IR level
(``inline="always"``): a call left in a device loop would make it scalar
(``docs/decisions/0007``). The operations are the plain-Python twin's, in its order, so the
kernel stays bit for bit equal to it.

Numba's cache does not notice a change here: after editing a stage, touch ``_kernel.py``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from modax.schema import DEFAULT_SAFETY
from simulator._electrical import STEP_S, phase_currents
from simulator._faults import FaultArrays, apply_sensor_faults, process_modifiers
from simulator._load import load_fraction
from simulator._noise import normal_pair
from simulator._params import (
    P_A1,
    P_A2,
    P_AB,
    P_AB0,
    P_AMBIENT,
    P_AMP,
    P_ASYM1,
    P_ASYM2,
    P_AW,
    P_BPFO,
    P_DUTY,
    P_FROT,
    P_LOAD,
    P_MAX_TEMP_C,
    P_OVERLOAD_A,
    P_PERIOD,
    P_PHASE,
    P_PROFILE,
    P_RATED,
    P_RISE,
)
from simulator._sensors import (
    CURRENT_NOISE_A,
    CURRENT_RANGE_A,
    CURRENT_RESOLUTION,
    TEMPERATURE_NOISE_C,
    TEMPERATURE_RANGE_C,
    TEMPERATURE_RESOLUTION,
    VIBRATION_NOISE_MS2,
    VIBRATION_RANGE_MS2,
    VIBRATION_RESOLUTION,
    sense,
)
from simulator._thermal import CUTOUT_RESET_C, CUTOUT_TRIP_C, friction_rise, thermal_step
from simulator._validity import reading_check
from simulator._vibration import amplitudes, axes, dynamic_mean_square
from simulator._wear import CYCLING_C, CYCLING_TAU_S, stress_factor

__all__ = [
    "FLAG_DOOR_OPEN",
    "FLAG_ESTOP",
    "FLAG_OVERLOAD",
    "FLAG_TEMPERATURE",
    "OVERLOAD_LIMIT_A",
    "SAFETY_EVERY",
    "TEMPERATURE_LIMIT_C",
    "log_life_events",
    "physics",
    "process_faults",
    "safety",
    "sensor_faults",
    "vibration",
]

#: A safety message at least every this many steps (1 s), and on every change.
SAFETY_EVERY = 20
#: The firmware's default overload limit: any phase current above it, A
#: (``modax.schema.DEFAULT_SAFETY``; a device's own is its ``P_OVERLOAD_A`` parameter).
OVERLOAD_LIMIT_A = DEFAULT_SAFETY.overload_current_a
#: The firmware's default temperature limit: ``temperature_ok`` is ``T <`` this on every channel,
#: °C (a device's own is its ``P_MAX_TEMP_C`` parameter).
TEMPERATURE_LIMIT_C = DEFAULT_SAFETY.max_temperature_c
FLAG_ESTOP = 1
FLAG_DOOR_OPEN = 2
FLAG_OVERLOAD = 4
FLAG_TEMPERATURE = 8
LIFE_FAILED = 1.0
LIFE_REPLACED = 2.0
LIFE_FAILED_CODE = 1
LIFE_REPLACED_CODE = 2

# A device's state (rows of the block's state, columns of the fleet's).
(
    S_TW,
    S_TB,
    S_DAMAGE,
    S_TSLOW,
    S_FAILED_AT,
    S_ON_SINCE,
    S_RUNNING,
    S_TRIPPED,
    S_FLAGS,
    S_LAST_EMIT,
    S_SAFETY_COUNT,
    S_DAMAGE_ADDED,
    N_STATE,
) = range(13)
# Process-fault modifiers, in the order process_modifiers returns them.
M_IMBALANCE, M_MISALIGNMENT, M_BEARING, M_OVERLOAD, M_COOLING, M_PHASE, M_ESTOP, M_DOOR, N_MOD = (
    range(9)
)
# Reported values of a step: currents 1–2, vibration x/y/z, temperatures 1–2 (the N_MEASURED a
# sensor fault may change), then the vibration magnitude and the contract check of a reading.
R_C1, R_C2, R_VX, R_VY, R_VZ, R_T1, R_T2, R_VMAG, R_CHECK, N_REPORTED = range(10)
N_MEASURED = R_VMAG
# Vibration amplitudes: 1×, 2×, bearing, axial, noise σ.
A_1, A_2, A_B, A_Z, A_SIGMA, N_AMPS = range(6)

_DT_S = STEP_S
_CYCLING_ALPHA = _DT_S / CYCLING_TAU_S
# Noise streams, each giving a pair of normals (simulator._noise.normal_pair).
_S_CURRENTS, _S_TEMPERATURES, _S_MACHINE_XY, _S_MACHINE_Z, _S_VIBRATION_YZ = range(1, 6)


@njit(cache=True, inline="always")
def process_faults(
    faults: FaultArrays,
    devices: np.ndarray,
    pointers: np.ndarray,
    events: np.ndarray,
    t: float,
    mods: np.ndarray,
) -> None:
    """Process-fault modifiers at ``t`` of the block's ``devices`` into ``mods`` (scalar pass).

    ``faults`` is the kernel's :class:`~simulator._faults.FaultArrays`; device ``devices[n]``
    has the events ``events[pointers[n]:pointers[n + 1]]``.
    """
    for n in range(len(devices)):
        j = devices[n]
        imb, mis, bear, over, cool, phase, estop, door = process_modifiers(
            faults.kind,
            faults.start_s,
            faults.end_s,
            faults.severity,
            events[pointers[n] : pointers[n + 1]],
            t,
        )
        mods[M_IMBALANCE, j] = imb
        mods[M_MISALIGNMENT, j] = mis
        mods[M_BEARING, j] = bear
        mods[M_OVERLOAD, j] = over
        mods[M_COOLING, j] = cool
        mods[M_PHASE, j] = phase
        mods[M_ESTOP, j] = 1.0 if estop else 0.0
        mods[M_DOOR, j] = 1.0 if door else 0.0


@njit(cache=True, inline="always")
def _drive(
    st: np.ndarray,
    pb: np.ndarray,
    mods: np.ndarray,
    j: int,
    key: np.uint64,
    k: int,
    t: float,
    failed_at: float,
) -> tuple[float, bool, bool, float]:
    """Load and whether the motor runs: ``(load, run, tripped, on_since)`` of device ``j``.

    It runs under load unless e-stopped, the door is open, it has failed, or the thermal
    cut-out trips (at ``CUTOUT_TRIP_C`` °C; it resets below ``CUTOUT_RESET_C``). ``on_since``
    is the global step of its last start.
    """
    load = load_fraction(
        int(pb[P_PROFILE, j]),
        pb[P_LOAD, j],
        pb[P_AMP, j],
        pb[P_PERIOD, j],
        pb[P_PHASE, j],
        pb[P_DUTY, j],
        key,
        t,
    )
    tripped = st[S_TW, j] >= (CUTOUT_RESET_C if st[S_TRIPPED, j] > 0.5 else CUTOUT_TRIP_C)
    run = (
        load > 0.0
        and mods[M_ESTOP, j] == 0.0
        and mods[M_DOOR, j] == 0.0
        and math.isnan(failed_at)
        and not tripped
    )
    on_since = k if run and st[S_RUNNING, j] < 0.5 else st[S_ON_SINCE, j]
    return load, run, tripped, on_since


@njit(cache=True, inline="always")
def _wear(
    st: np.ndarray,
    j: int,
    run: bool,
    i1: float,
    i2: float,
    tw: float,
    tb: float,
    dynamic_ms: float,
    wear_per_step: float,
) -> tuple[float, float, float]:
    """The step's stress factor, damage increment and slow winding temperature (°C).

    The MODAX stress factor (:func:`~simulator._wear.stress_factor`, 0 while stopped; the
    vibration's ``dynamic_ms``, m²/s⁴) times ``wear_per_step`` is the damage added.
    """
    tslow = st[S_TSLOW, j]
    tslow += (tw - tslow) * _CYCLING_ALPHA
    factor = stress_factor(
        0.5 * (i1 + i2),
        max(i1, i2),
        dynamic_ms,
        max(tw, tb),
        abs(tw - tslow) > CYCLING_C,
    )
    factor = factor if run else 0.0
    return factor, wear_per_step * factor, tslow


@njit(cache=True, inline="always")
def physics(
    st: np.ndarray,
    pb: np.ndarray,
    mods: np.ndarray,
    keys: np.ndarray,
    lo: int,
    nb: int,
    k: int,
    t: float,
    wear_per_step: float,
    replace_after_s: float,
    amps: np.ndarray,
    reported: np.ndarray,
    stress: np.ndarray,
    event: np.ndarray,
) -> int:
    """Advance the block's ``nb`` motors (devices ``lo:lo + nb``) by step ``k`` (time ``t``, s).

    Per device: replacement (``replace_after_s`` after a failure; < 0: never) → load, e-stop,
    door, cut-out (:func:`_drive`) → phase currents → thermal step → vibration amplitudes
    (into ``amps``) → wear and failure (stress factor into ``stress``) → the sensed currents
    and temperatures (into ``reported``). ``event`` gets each device's ``LIFE_*_CODE`` (0:
    none); returns their sum (0: no failure or replacement in the block).
    """
    t_lo, t_hi = TEMPERATURE_RANGE_C
    i_lim = CURRENT_RANGE_A
    replaces = replace_after_s >= 0.0
    n_events = 0
    for j in range(nb):
        key = keys[lo + j]
        imb = mods[M_IMBALANCE, j]
        mis = mods[M_MISALIGNMENT, j]
        bear = mods[M_BEARING, j]
        failed_at = st[S_FAILED_AT, j]
        damage = st[S_DAMAGE, j]
        replaced = replaces and t >= failed_at + replace_after_s  # false while NaN
        failed_at = math.nan if replaced else failed_at
        damage = 0.0 if replaced else damage
        load, run, tripped, on_since = _drive(st, pb, mods, j, key, k, t, failed_at)
        i1, i2 = phase_currents(
            load if run else 0.0,
            pb[P_RATED, j],
            damage,
            mods[M_OVERLOAD, j],
            int(min(k - on_since, 1e9)),
            mods[M_PHASE, j],
            pb[P_ASYM1, j],
            pb[P_ASYM2, j],
        )
        tw, tb = thermal_step(
            st[S_TW, j],
            st[S_TB, j],
            pb[P_AMBIENT, j],
            pb[P_RISE, j],
            pb[P_AW, j],
            pb[P_AB, j],
            i1,
            i2,
            pb[P_RATED, j],
            mods[M_COOLING, j],
            friction_rise(run, damage, bear, mis, imb),
        )
        a1, a2, ab, az, sm = amplitudes(
            run, pb[P_A1, j], pb[P_A2, j], pb[P_AB0, j], imb, mis, bear, damage
        )
        amps[A_1, j] = a1
        amps[A_2, j] = a2
        amps[A_B, j] = ab
        amps[A_Z, j] = az
        amps[A_SIGMA, j] = sm
        dynamic_ms = dynamic_mean_square(a1, a2, ab, az, sm)
        factor, increment, tslow = _wear(st, j, run, i1, i2, tw, tb, dynamic_ms, wear_per_step)
        damage += increment
        failed = run and damage >= 1.0
        damage = 1.0 if failed else damage
        failed_at = t if failed else failed_at
        code = LIFE_FAILED_CODE if failed else (LIFE_REPLACED_CODE if replaced else 0)
        event[j] = code
        n_events += code
        n_c1, n_c2 = normal_pair(key, k, _S_CURRENTS)
        n_t1, n_t2 = normal_pair(key, k, _S_TEMPERATURES)
        reported[R_C1, j] = sense(i1, CURRENT_NOISE_A * n_c1, -i_lim, i_lim, CURRENT_RESOLUTION)
        reported[R_C2, j] = sense(i2, CURRENT_NOISE_A * n_c2, -i_lim, i_lim, CURRENT_RESOLUTION)
        reported[R_T1, j] = sense(
            tw, TEMPERATURE_NOISE_C * n_t1, t_lo, t_hi, TEMPERATURE_RESOLUTION
        )
        reported[R_T2, j] = sense(
            tb, TEMPERATURE_NOISE_C * n_t2, t_lo, t_hi, TEMPERATURE_RESOLUTION
        )
        stress[j] = factor
        st[S_TW, j] = tw
        st[S_TB, j] = tb
        st[S_DAMAGE, j] = damage
        st[S_TSLOW, j] = tslow
        st[S_FAILED_AT, j] = failed_at
        st[S_ON_SINCE, j] = on_since
        st[S_RUNNING, j] = 1.0 if run else 0.0
        st[S_TRIPPED, j] = 1.0 if tripped else 0.0
        st[S_DAMAGE_ADDED, j] += increment
    return n_events


@njit(cache=True, inline="always")
def log_life_events(
    event: np.ndarray, nb: int, t: float, life: np.ndarray, n_life: np.ndarray, lo: int
) -> None:
    """Log the block's failures and replacements of time ``t`` (s) in ``life`` (scalar pass).

    ``n_life`` counts each device's events; those beyond ``life.shape[1]`` are not logged.
    """
    for j in range(nb):
        if event[j] and n_life[j] < life.shape[1]:
            life[lo + j, n_life[j], 0] = t
            life[lo + j, n_life[j], 1] = (
                LIFE_FAILED if event[j] == LIFE_FAILED_CODE else LIFE_REPLACED
            )
            n_life[j] += 1


@njit(cache=True, inline="always")
def vibration(
    pb: np.ndarray,
    phi: np.ndarray,
    amps: np.ndarray,
    keys: np.ndarray,
    lo: int,
    nb: int,
    k: int,
    t: float,
    reported: np.ndarray,
) -> None:
    """The block's sensed vibration at step ``k`` (a reading; time ``t``, s): a vector loop.

    ``phi`` holds each device's cos and sin of its 2× phase; ``amps`` the amplitudes of the
    step (:func:`physics`).
    """
    v_lim = VIBRATION_RANGE_MS2
    noise = VIBRATION_NOISE_MS2
    for j in range(nb):
        key = keys[lo + j]
        n_mx, n_my = normal_pair(key, k, _S_MACHINE_XY)
        n_mz, n_vx = normal_pair(key, k, _S_MACHINE_Z)
        n_vy, n_vz = normal_pair(key, k, _S_VIBRATION_YZ)
        turns = pb[P_FROT, j] * t
        x, y, z = axes(
            amps[A_1, j],
            amps[A_2, j],
            amps[A_B, j],
            amps[A_Z, j],
            amps[A_SIGMA, j],
            turns - math.floor(turns),
            pb[P_BPFO, j],
            phi[0, j],
            phi[1, j],
            n_mx,
            n_my,
            n_mz,
        )
        reported[R_VX, j] = sense(x, noise * n_vx, -v_lim, v_lim, VIBRATION_RESOLUTION)
        reported[R_VY, j] = sense(y, noise * n_vy, -v_lim, v_lim, VIBRATION_RESOLUTION)
        reported[R_VZ, j] = sense(z, noise * n_vz, -v_lim, v_lim, VIBRATION_RESOLUTION)


@njit(cache=True, inline="always")
def sensor_faults(
    faults: FaultArrays,
    devices: np.ndarray,
    pointers: np.ndarray,
    events: np.ndarray,
    keys: np.ndarray,
    lo: int,
    t: float,
    k: int,
    reading: bool,
    values: np.ndarray,
    reported: np.ndarray,
) -> None:
    """Apply the sensor faults active at ``t`` to the reported values of ``devices`` (scalar).

    As :func:`process_faults`; ``values`` (``N_MEASURED``) is the scratch a device's values go
    through (:func:`~simulator._faults.apply_sensor_faults`).
    """
    for n in range(len(devices)):
        j = devices[n]
        for v in range(N_MEASURED):
            values[v] = reported[v, j]
        apply_sensor_faults(
            faults.kind,
            faults.start_s,
            faults.end_s,
            faults.severity,
            faults.channel,
            faults.hold,
            events[pointers[n] : pointers[n + 1]],
            t,
            k,
            keys[lo + j],
            values,
            reading,
        )
        for v in range(N_MEASURED):
            reported[v, j] = values[v]


@njit(cache=True, inline="always")
def safety(
    st: np.ndarray,
    pb: np.ndarray,
    mods: np.ndarray,
    reported: np.ndarray,
    nb: int,
    k: int,
    i: int,
    lo: int,
    flags_out: np.ndarray,
    emit_out: np.ndarray,
) -> None:
    """The firmware's 20 Hz safety check of step ``k`` and each reading's contract check.

    Per device (a vector loop), against the device's thresholds in ``pb``: the safety flags
    (``FLAG_*``) into ``flags_out`` and whether a safety message goes out (on change, and at
    least every :data:`SAFETY_EVERY` steps) into ``emit_out`` (both at the chunk's step ``i``,
    device ``lo + j``); the vibration magnitude
    and the first value the message contract rejects (:func:`~simulator._validity.reading_check`)
    into ``reported``.
    """
    for j in range(nb):
        overload_a = pb[P_OVERLOAD_A, j]
        max_temp_c = pb[P_MAX_TEMP_C, j]
        flags = (
            (FLAG_ESTOP if mods[M_ESTOP, j] != 0.0 else 0)
            | (FLAG_DOOR_OPEN if mods[M_DOOR, j] != 0.0 else 0)
            | (
                FLAG_OVERLOAD
                if abs(reported[R_C1, j]) > overload_a or abs(reported[R_C2, j]) > overload_a
                else 0
            )
            | (
                FLAG_TEMPERATURE
                if reported[R_T1, j] >= max_temp_c or reported[R_T2, j] >= max_temp_c
                else 0
            )
        )
        emit = flags != st[S_FLAGS, j] or k - st[S_LAST_EMIT, j] >= SAFETY_EVERY
        st[S_FLAGS, j] = flags if emit else st[S_FLAGS, j]
        st[S_LAST_EMIT, j] = k if emit else st[S_LAST_EMIT, j]
        st[S_SAFETY_COUNT, j] += 1.0 if emit else 0.0
        flags_out[i, lo + j] = flags
        emit_out[i, lo + j] = emit
        x = reported[R_VX, j]
        y = reported[R_VY, j]
        z = reported[R_VZ, j]
        vmag = math.sqrt(x * x + y * y + z * z)
        reported[R_VMAG, j] = vmag
        reported[R_CHECK, j] = reading_check(
            reported[R_C1, j],
            reported[R_C2, j],
            x,
            y,
            z,
            vmag,
            reported[R_T1, j],
            reported[R_T2, j],
        )
