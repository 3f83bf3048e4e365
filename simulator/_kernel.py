"""The physics kernel: one chunk of simulated time for every device, 20 Hz steps, in numba.

Each 50 ms step runs the firmware's 20 Hz safety check; every second step is also a 10 Hz
telemetry reading. Per device and step: faults → load → cut-out → currents → thermal → vibration
→ wear → sensors → sensor faults → safety flags. All state lives in a ``(n_devices, N_STATE)``
array carried from chunk to chunk, and every random number is counter-based, so a run cut into
any chunks gives the same numbers bit for bit. ``simulate_chunk.py_func`` is the plain-Python
reference twin.

Devices go in blocks of :data:`BLOCK`; each step is a loop over a block's devices, written
without branches so that LLVM vectorises it across devices (``docs/decisions/0007``).
``S_ON_SINCE`` is the global step of the motor's last start (the inrush table counts steps).

Examples
--------
>>> from simulator._noise import device_keys
>>> from simulator._params import device_params
>>> from simulator._scenario import Scenario
>>> keys = device_keys(0, 2)
>>> params = device_params(keys, Scenario.load("healthy"), DT_S)
>>> out = ChunkBuffers.allocate(2, 20)
>>> state = initial_state(params)
>>> run_chunk(params, state, keys, FaultArrays.empty(2), 0, 20, 1.0, -1.0, out)
>>> out.telemetry.shape, out.wear.shape
((8, 2, 10), (2, 2, 1))
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit, prange

from modax.schema import DEFAULT_SAFETY, pooled_array
from simulator._electrical import STEP_S, phase_currents
from simulator._faults import FaultEvents, apply_sensor_faults, overlapping, process_modifiers
from simulator._load import PROFILE_START_STOP, load_fraction
from simulator._noise import normal_pair
from simulator._params import (
    N_PARAMS,
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
    P_DAMAGE0,
    P_DUTY,
    P_FROT,
    P_LOAD,
    P_PERIOD,
    P_PHASE,
    P_PHI2,
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
from simulator._wear import CYCLING_C, CYCLING_TAU_S, NOMINAL_LIFE_S, stress_factor

__all__ = [
    "DT_S",
    "FLAG_DOOR_OPEN",
    "FLAG_ESTOP",
    "FLAG_OVERLOAD",
    "FLAG_TEMPERATURE",
    "LIFE_EVERY",
    "OVERLOAD_LIMIT_A",
    "SAFETY_EVERY",
    "TELEMETRY_EVERY",
    "TEMPERATURE_LIMIT_C",
    "ChunkBuffers",
    "FaultArrays",
    "initial_state",
    "run_chunk",
    "simulate_chunk",
]

#: Physics and safety-check step, s (20 Hz; the step the inrush table is counted in).
DT_S = STEP_S
#: A telemetry reading every this many steps (10 Hz).
TELEMETRY_EVERY = 2
#: A safety message at least every this many steps (1 s), and on every change.
SAFETY_EVERY = 20
#: The firmware's overload limit: any phase current above it, A (``modax.schema.DEFAULT_SAFETY``).
OVERLOAD_LIMIT_A = DEFAULT_SAFETY.overload_current_a
#: The firmware's temperature limit: ``temperature_ok`` is ``T <`` this on every channel, °C.
TEMPERATURE_LIMIT_C = DEFAULT_SAFETY.max_temperature_c
FLAG_ESTOP = 1
FLAG_DOOR_OPEN = 2
FLAG_OVERLOAD = 4
FLAG_TEMPERATURE = 8
#: Failure / replacement events one device can log in one chunk.
MAX_LIFE_EVENTS = 8
LIFE_FAILED = 1.0
LIFE_REPLACED = 2.0

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
(T_C1, T_C2, T_VX, T_VY, T_VZ, T_VMAG, T_T1, T_T2, N_TEL) = range(9)
#: The true wear state (damage, stress factor) is kept every this many readings (1 Hz).
LIFE_EVERY = 10
_CYCLING_ALPHA = DT_S / CYCLING_TAU_S
# Noise streams, each giving a pair of normals (simulator._noise.normal_pair).
_S_CURRENTS, _S_TEMPERATURES, _S_MACHINE_XY, _S_MACHINE_Z, _S_VIBRATION_YZ = range(1, 6)
#: Devices per parallel task, the vector loops' length.
BLOCK = 256
# Process-fault modifiers, in the order process_modifiers returns them.
M_IMBALANCE, M_MISALIGNMENT, M_BEARING, M_OVERLOAD, M_COOLING, M_PHASE, M_ESTOP, M_DOOR, N_MOD = (
    range(9)
)
#: Reported values of a step: currents 1–2, vibration x/y/z, temperatures 1–2 (then the
#: vibration magnitude and the contract check of a reading, derived from them).
N_MEASURED = 7
M_VMAG = 7
M_CHECK = 8
LIFE_FAILED_CODE = 1
LIFE_REPLACED_CODE = 2


def initial_state(params: np.ndarray) -> np.ndarray:
    """State at t = 0: running, temperatures at their steady state for the mean load."""
    n = len(params)
    state = np.zeros((n, N_STATE))
    ambient = params[:, P_AMBIENT]
    duty = np.where(params[:, P_PROFILE] == PROFILE_START_STOP, params[:, P_DUTY], 1.0)
    losses = params[:, P_LOAD] ** 2 * duty
    friction = (2.0 + 10.0 * params[:, P_DAMAGE0] ** 2) * duty
    rise_w = (params[:, P_RISE] * losses + 0.3 * friction) / (1.0 - 0.3 * 0.45)
    state[:, S_TW] = ambient + rise_w
    state[:, S_TB] = ambient + 0.45 * rise_w + friction
    state[:, S_DAMAGE] = params[:, P_DAMAGE0]
    state[:, S_TSLOW] = state[:, S_TW]
    state[:, S_FAILED_AT] = np.nan
    state[:, S_ON_SINCE] = -1e9
    state[:, S_RUNNING] = 1.0
    state[:, S_FLAGS] = -1.0
    state[:, S_LAST_EMIT] = -1e15
    return state


@dataclass
class FaultArrays:
    """The fault event table as the kernel takes it (sorted by device, with CSR pointers)."""

    kind: np.ndarray
    start_s: np.ndarray
    end_s: np.ndarray
    severity: np.ndarray
    channel: np.ndarray
    hold: np.ndarray
    pointers: np.ndarray

    @classmethod
    def of(cls, events: FaultEvents, n_devices: int) -> FaultArrays:
        """View ``events`` for the kernel; stuck-sensor holds are written back into them."""
        return cls(
            events.kind,
            events.start_s,
            events.end_s,
            events.severity,
            events.channel,
            events.hold,
            events.pointers(n_devices),
        )

    @classmethod
    def empty(cls, n_devices: int) -> FaultArrays:
        """No faults."""
        return cls.of(FaultEvents(), n_devices)


@dataclass
class ChunkBuffers:
    """Kernel outputs for one chunk.

    Attributes
    ----------
    telemetry : numpy.ndarray, shape (N_TEL, n_devices, n_readings)
        Reported currents, vibration and temperatures.
    check : numpy.ndarray of int8, shape (n_devices, n_readings)
        Per reading, the first value the message contract rejects
        (:func:`~simulator._validity.reading_check`; −1: none).
    wear : numpy.ndarray, shape (2, n_devices, n_life)
        True damage and stress factor at readings ``first_life``, ``first_life + LIFE_EVERY``, …
        of the chunk.
    flags : numpy.ndarray of uint8, shape (n_steps, n_devices)
        Safety flags after every 20 Hz check (``FLAG_*`` bits), step by step (the kernel's
        order: its vector loops write them contiguously).
    emit : numpy.ndarray of bool, shape (n_steps, n_devices)
        Where the device publishes a safety message (on change, and at least every second).
    life : numpy.ndarray, shape (n_devices, MAX_LIFE_EVENTS, 2)
        ``(time_s, LIFE_FAILED | LIFE_REPLACED)`` events of the chunk; ``life_count`` per device.
    """

    telemetry: np.ndarray
    check: np.ndarray
    wear: np.ndarray
    first_life: int
    flags: np.ndarray
    emit: np.ndarray
    life: np.ndarray
    life_count: np.ndarray

    @classmethod
    def allocate(cls, n_devices: int, n_steps: int, first_life: int = 0) -> ChunkBuffers:
        """Buffers for ``n_steps`` 20 Hz steps (an even number) of ``n_devices`` devices.

        ``first_life`` (0 … ``LIFE_EVERY − 1``) is the first reading of the chunk whose wear
        state is kept.
        """
        n_readings = n_steps // TELEMETRY_EVERY
        n_life = len(range(first_life, n_readings, LIFE_EVERY))
        return cls(
            pooled_array((N_TEL, n_devices, n_readings), np.float64),
            pooled_array((n_devices, n_readings), np.int8),
            np.empty((2, n_devices, n_life)),
            first_life,
            pooled_array((n_steps, n_devices), np.uint8),
            pooled_array((n_steps, n_devices), np.bool_),
            np.zeros((n_devices, MAX_LIFE_EVENTS, 2)),
            np.zeros(n_devices, np.int64),
        )


@njit(cache=True)
def _active_faults(
    f_kind: np.ndarray,
    f_start: np.ndarray,
    f_end: np.ndarray,
    f_ptr: np.ndarray,
    lo: int,
    hi: int,
    t_first: float,
    t_last: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Devices ``lo:hi`` with process / sensor faults active in ``[t_first, t_last]``.

    Returns ``(process_devices, process_ptr, process_events, sensor_devices, sensor_ptr,
    sensor_events)``: the block-local indices of the devices that have such faults, and their
    event indices (CSR: device ``process_devices[n]`` has ``process_events[process_ptr[n]:
    process_ptr[n + 1]]``), from :func:`~simulator._faults.overlapping`.
    """
    n_events = f_ptr[hi] - f_ptr[lo]
    p_dev = np.empty(hi - lo, np.int64)
    p_ptr = np.zeros(hi - lo + 1, np.int64)
    p_ev = np.empty(n_events, np.int64)
    s_dev = np.empty(hi - lo, np.int64)
    s_ptr = np.zeros(hi - lo + 1, np.int64)
    s_ev = np.empty(n_events, np.int64)
    n_p = n_s = 0
    for d in range(lo, hi):
        if f_ptr[d + 1] == f_ptr[d]:
            continue
        process, sensor = overlapping(
            f_kind, f_start, f_end, f_ptr[d], f_ptr[d + 1], t_first, t_last
        )
        if len(process):
            p_dev[n_p] = d - lo
            p_ev[p_ptr[n_p] : p_ptr[n_p] + len(process)] = process
            p_ptr[n_p + 1] = p_ptr[n_p] + len(process)
            n_p += 1
        if len(sensor):
            s_dev[n_s] = d - lo
            s_ev[s_ptr[n_s] : s_ptr[n_s] + len(sensor)] = sensor
            s_ptr[n_s + 1] = s_ptr[n_s] + len(sensor)
            n_s += 1
    return p_dev[:n_p], p_ptr[: n_p + 1], p_ev, s_dev[:n_s], s_ptr[: n_s + 1], s_ev


@njit(cache=True, parallel=True, nogil=True, error_model="numpy")
def simulate_chunk(
    params: np.ndarray,
    state: np.ndarray,
    keys: np.ndarray,
    f_kind: np.ndarray,
    f_start: np.ndarray,
    f_end: np.ndarray,
    f_sev: np.ndarray,
    f_chan: np.ndarray,
    f_hold: np.ndarray,
    f_ptr: np.ndarray,
    k0: int,
    n_steps: int,
    acceleration: float,
    replace_after_s: float,
    tel: np.ndarray,
    check_out: np.ndarray,
    wear: np.ndarray,
    first_life: int,
    flags_out: np.ndarray,
    emit_out: np.ndarray,
    life: np.ndarray,
    life_count: np.ndarray,
) -> None:
    """Advance every device by ``n_steps`` steps from global step ``k0`` (even), in place.

    Devices go in blocks of :data:`BLOCK` (in parallel); within a block the steps run in order
    and every step is a loop over the block's devices, whose state lives in per-device rows, so
    that LLVM vectorises it (branches written as selections). Faults, failures and replacements
    are rare: scalar passes over just the devices that have them.
    """
    t_lo, t_hi = TEMPERATURE_RANGE_C
    i_lim = CURRENT_RANGE_A
    v_lim = VIBRATION_RANGE_MS2
    wear_per_step = acceleration * DT_S / NOMINAL_LIFE_S
    replaces = replace_after_s >= 0.0
    n_devices = params.shape[0]
    for b in prange((n_devices + BLOCK - 1) // BLOCK):
        lo = b * BLOCK
        hi = min(n_devices, lo + BLOCK)
        nb = hi - lo
        st = np.empty((N_STATE, BLOCK))
        pb = np.empty((N_PARAMS, BLOCK))
        for j in range(nb):
            for v in range(N_STATE):
                st[v, j] = state[lo + j, v]
            for v in range(N_PARAMS):
                pb[v, j] = params[lo + j, v]
        phi = np.empty((2, BLOCK))
        for j in range(nb):
            phi[0, j] = math.cos(pb[P_PHI2, j])
            phi[1, j] = math.sin(pb[P_PHI2, j])
        mods = np.zeros((N_MOD, BLOCK))
        m = np.empty((N_MEASURED + 2, BLOCK))
        amps = np.empty((5, BLOCK))
        stress = np.empty(BLOCK)
        event = np.zeros(BLOCK, np.int64)
        n_life = np.zeros(BLOCK, np.int64)
        values = np.empty(N_MEASURED)
        p_dev, p_ptr, p_ev, s_dev, s_ptr, s_ev = _active_faults(
            f_kind, f_start, f_end, f_ptr, lo, hi, k0 * DT_S, (k0 + n_steps - 1) * DT_S
        )
        for i in range(n_steps):
            k = k0 + i
            t = k * DT_S
            reading = k % TELEMETRY_EVERY == 0
            for n in range(len(p_dev)):
                j = p_dev[n]
                imb, mis, bear, over, cool, phase, estop, door = process_modifiers(
                    f_kind, f_start, f_end, f_sev, p_ev[p_ptr[n] : p_ptr[n + 1]], t
                )
                mods[M_IMBALANCE, j] = imb
                mods[M_MISALIGNMENT, j] = mis
                mods[M_BEARING, j] = bear
                mods[M_OVERLOAD, j] = over
                mods[M_COOLING, j] = cool
                mods[M_PHASE, j] = phase
                mods[M_ESTOP, j] = 1.0 if estop else 0.0
                mods[M_DOOR, j] = 1.0 if door else 0.0
            n_events = 0
            for j in range(nb):
                key = keys[lo + j]
                imb = mods[M_IMBALANCE, j]
                mis = mods[M_MISALIGNMENT, j]
                bear = mods[M_BEARING, j]
                failed_at = st[S_FAILED_AT, j]
                damage = st[S_DAMAGE, j]
                tw = st[S_TW, j]
                tb = st[S_TB, j]
                replaced = replaces and t >= failed_at + replace_after_s  # false while NaN
                failed_at = math.nan if replaced else failed_at
                damage = 0.0 if replaced else damage
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
                tripped = tw >= (CUTOUT_RESET_C if st[S_TRIPPED, j] > 0.5 else CUTOUT_TRIP_C)
                run = (
                    load > 0.0
                    and mods[M_ESTOP, j] == 0.0
                    and mods[M_DOOR, j] == 0.0
                    and math.isnan(failed_at)
                    and not tripped
                )
                on_since = k if run and st[S_RUNNING, j] < 0.5 else st[S_ON_SINCE, j]
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
                    tw,
                    tb,
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
                tslow = st[S_TSLOW, j]
                tslow += (tw - tslow) * _CYCLING_ALPHA
                factor = stress_factor(
                    0.5 * (i1 + i2),
                    max(i1, i2),
                    dynamic_mean_square(a1, a2, ab, az, sm),
                    max(tw, tb),
                    abs(tw - tslow) > CYCLING_C,
                )
                factor = factor if run else 0.0
                increment = wear_per_step * factor
                damage += increment
                failed = run and damage >= 1.0
                damage = 1.0 if failed else damage
                failed_at = t if failed else failed_at
                code = LIFE_FAILED_CODE if failed else (LIFE_REPLACED_CODE if replaced else 0)
                event[j] = code
                n_events += code
                n_c1, n_c2 = normal_pair(key, k, _S_CURRENTS)
                n_t1, n_t2 = normal_pair(key, k, _S_TEMPERATURES)
                m[0, j] = sense(i1, CURRENT_NOISE_A * n_c1, -i_lim, i_lim, CURRENT_RESOLUTION)
                m[1, j] = sense(i2, CURRENT_NOISE_A * n_c2, -i_lim, i_lim, CURRENT_RESOLUTION)
                m[5, j] = sense(tw, TEMPERATURE_NOISE_C * n_t1, t_lo, t_hi, TEMPERATURE_RESOLUTION)
                m[6, j] = sense(tb, TEMPERATURE_NOISE_C * n_t2, t_lo, t_hi, TEMPERATURE_RESOLUTION)
                amps[0, j] = a1
                amps[1, j] = a2
                amps[2, j] = ab
                amps[3, j] = az
                amps[4, j] = sm
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
            if n_events:
                for j in range(nb):
                    if event[j] and n_life[j] < life.shape[1]:
                        life[lo + j, n_life[j], 0] = t
                        life[lo + j, n_life[j], 1] = (
                            LIFE_FAILED if event[j] == LIFE_FAILED_CODE else LIFE_REPLACED
                        )
                        n_life[j] += 1
            if reading:
                for j in range(nb):
                    key = keys[lo + j]
                    n_mx, n_my = normal_pair(key, k, _S_MACHINE_XY)
                    n_mz, n_vx = normal_pair(key, k, _S_MACHINE_Z)
                    n_vy, n_vz = normal_pair(key, k, _S_VIBRATION_YZ)
                    turns = pb[P_FROT, j] * t
                    x, y, z = axes(
                        amps[0, j],
                        amps[1, j],
                        amps[2, j],
                        amps[3, j],
                        amps[4, j],
                        turns - math.floor(turns),
                        pb[P_BPFO, j],
                        phi[0, j],
                        phi[1, j],
                        n_mx,
                        n_my,
                        n_mz,
                    )
                    noise = VIBRATION_NOISE_MS2
                    m[2, j] = sense(x, noise * n_vx, -v_lim, v_lim, VIBRATION_RESOLUTION)
                    m[3, j] = sense(y, noise * n_vy, -v_lim, v_lim, VIBRATION_RESOLUTION)
                    m[4, j] = sense(z, noise * n_vz, -v_lim, v_lim, VIBRATION_RESOLUTION)
            for n in range(len(s_dev)):
                j = s_dev[n]
                for v in range(N_MEASURED):
                    values[v] = m[v, j]
                apply_sensor_faults(
                    f_kind,
                    f_start,
                    f_end,
                    f_sev,
                    f_chan,
                    f_hold,
                    s_ev[s_ptr[n] : s_ptr[n + 1]],
                    t,
                    k,
                    keys[lo + j],
                    values,
                    reading,
                )
                for v in range(N_MEASURED):
                    m[v, j] = values[v]
            for j in range(nb):
                flags = (
                    (FLAG_ESTOP if mods[M_ESTOP, j] != 0.0 else 0)
                    | (FLAG_DOOR_OPEN if mods[M_DOOR, j] != 0.0 else 0)
                    | (
                        FLAG_OVERLOAD
                        if abs(m[0, j]) > OVERLOAD_LIMIT_A or abs(m[1, j]) > OVERLOAD_LIMIT_A
                        else 0
                    )
                    | (
                        FLAG_TEMPERATURE
                        if m[5, j] >= TEMPERATURE_LIMIT_C or m[6, j] >= TEMPERATURE_LIMIT_C
                        else 0
                    )
                )
                emit = flags != st[S_FLAGS, j] or k - st[S_LAST_EMIT, j] >= SAFETY_EVERY
                st[S_FLAGS, j] = flags if emit else st[S_FLAGS, j]
                st[S_LAST_EMIT, j] = k if emit else st[S_LAST_EMIT, j]
                st[S_SAFETY_COUNT, j] += 1.0 if emit else 0.0
                flags_out[i, lo + j] = flags
                emit_out[i, lo + j] = emit
                vmag = math.sqrt(m[2, j] * m[2, j] + m[3, j] * m[3, j] + m[4, j] * m[4, j])
                m[M_VMAG, j] = vmag
                m[M_CHECK, j] = reading_check(
                    m[0, j], m[1, j], m[2, j], m[3, j], m[4, j], vmag, m[5, j], m[6, j]
                )
            if reading:
                r = i // TELEMETRY_EVERY
                for j in range(nb):
                    tel[T_C1, lo + j, r] = m[0, j]
                    tel[T_C2, lo + j, r] = m[1, j]
                    tel[T_VX, lo + j, r] = m[2, j]
                    tel[T_VY, lo + j, r] = m[3, j]
                    tel[T_VZ, lo + j, r] = m[4, j]
                    tel[T_VMAG, lo + j, r] = m[M_VMAG, j]
                    tel[T_T1, lo + j, r] = m[5, j]
                    tel[T_T2, lo + j, r] = m[6, j]
                    check_out[lo + j, r] = m[M_CHECK, j]
                if r >= first_life and (r - first_life) % LIFE_EVERY == 0:
                    w = (r - first_life) // LIFE_EVERY
                    for j in range(nb):
                        wear[0, lo + j, w] = st[S_DAMAGE, j]
                        wear[1, lo + j, w] = stress[j]
        for j in range(nb):
            for v in range(N_STATE):
                state[lo + j, v] = st[v, j]
            life_count[lo + j] = n_life[j]


def run_chunk(
    params: np.ndarray,
    state: np.ndarray,
    keys: np.ndarray,
    faults: FaultArrays,
    k0: int,
    n_steps: int,
    acceleration: float,
    replace_after_s: float,
    out: ChunkBuffers,
    kernel: object = simulate_chunk,
) -> None:
    """Run :func:`simulate_chunk` (or its reference twin ``simulate_chunk.py_func``) on buffers."""
    if k0 % TELEMETRY_EVERY or n_steps % TELEMETRY_EVERY:
        raise ValueError(f"chunks start and end on telemetry steps: k0={k0}, n_steps={n_steps}")
    out.life[:] = 0.0
    kernel(
        params,
        state,
        keys,
        faults.kind,
        faults.start_s,
        faults.end_s,
        faults.severity,
        faults.channel,
        faults.hold,
        faults.pointers,
        k0,
        n_steps,
        acceleration,
        replace_after_s,
        out.telemetry,
        out.check,
        out.wear,
        out.first_life,
        out.flags,
        out.emit,
        out.life,
        out.life_count,
    )
