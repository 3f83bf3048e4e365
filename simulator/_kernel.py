"""The physics kernel: one chunk of simulated time for every device, 20 Hz steps, in numba.

Each 50 ms step runs the firmware's 20 Hz safety check; every second step is also a 10 Hz
telemetry reading. Per device and step: faults → load → cut-out → currents → thermal → vibration
→ wear → sensors → sensor faults → safety flags. All state lives in a ``(n_devices, N_STATE)``
array carried from chunk to chunk, and every random number is counter-based, so a run cut into
any chunks gives the same numbers bit for bit. ``simulate_chunk.py_func`` is the plain-Python
reference twin.

Devices go in blocks of :data:`BLOCK`; each step is a few loops over a block's devices, written
without branches so that LLVM vectorises them across devices (``docs/decisions/0007``): the
stages of :mod:`simulator._step`, which numba inlines into :func:`simulate_chunk`.

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
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
from numba import njit, prange

from modax.schema import pooled_array
from simulator._electrical import STEP_S
from simulator._faults import FaultArrays, overlapping
from simulator._load import PROFILE_START_STOP
from simulator._params import (
    N_PARAMS,
    P_AMBIENT,
    P_DAMAGE0,
    P_DUTY,
    P_LOAD,
    P_PHI2,
    P_PROFILE,
    P_RISE,
)
from simulator._step import (
    FLAG_DOOR_OPEN,
    FLAG_ESTOP,
    FLAG_OVERLOAD,
    FLAG_TEMPERATURE,
    LIFE_FAILED,
    N_AMPS,
    N_MEASURED,
    N_MOD,
    N_REPORTED,
    N_STATE,
    OVERLOAD_LIMIT_A,
    R_C1,
    R_C2,
    R_CHECK,
    R_T1,
    R_T2,
    R_VMAG,
    R_VX,
    R_VY,
    R_VZ,
    S_DAMAGE,
    S_DAMAGE_ADDED,
    S_FAILED_AT,
    S_FLAGS,
    S_LAST_EMIT,
    S_ON_SINCE,
    S_RUNNING,
    S_SAFETY_COUNT,
    S_TB,
    S_TSLOW,
    S_TW,
    SAFETY_EVERY,
    TEMPERATURE_LIMIT_C,
    log_life_events,
    physics,
    process_faults,
    safety,
    sensor_faults,
    vibration,
)
from simulator._wear import NOMINAL_LIFE_S

__all__ = [
    "DT_S",
    "FLAG_DOOR_OPEN",
    "FLAG_ESTOP",
    "FLAG_OVERLOAD",
    "FLAG_TEMPERATURE",
    "LIFE_EVERY",
    "LIFE_FAILED",
    "OVERLOAD_LIMIT_A",
    "SAFETY_EVERY",
    "S_DAMAGE_ADDED",
    "S_SAFETY_COUNT",
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
#: Failure / replacement events one device can log in one chunk.
MAX_LIFE_EVENTS = 8
(T_C1, T_C2, T_VX, T_VY, T_VZ, T_VMAG, T_T1, T_T2, N_TEL) = range(9)
#: The true wear state (damage, stress factor) is kept every this many readings (1 Hz).
LIFE_EVERY = 10
#: Devices per parallel task, the vector loops' length.
BLOCK = 256


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


class ChunkBuffers(NamedTuple):
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


@njit(cache=True, inline="always")
def _load_block(
    params: np.ndarray, state: np.ndarray, lo: int, nb: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Devices ``lo:lo + nb``'s state, parameters and cos/sin of their 2× phase, in rows."""
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
    return st, pb, phi


@njit(cache=True, inline="always")
def _store_reading(
    reported: np.ndarray, nb: int, lo: int, r: int, tel: np.ndarray, check: np.ndarray
) -> None:
    """The block's reported values into reading ``r`` of the device-major outputs."""
    for j in range(nb):
        tel[T_C1, lo + j, r] = reported[R_C1, j]
        tel[T_C2, lo + j, r] = reported[R_C2, j]
        tel[T_VX, lo + j, r] = reported[R_VX, j]
        tel[T_VY, lo + j, r] = reported[R_VY, j]
        tel[T_VZ, lo + j, r] = reported[R_VZ, j]
        tel[T_VMAG, lo + j, r] = reported[R_VMAG, j]
        tel[T_T1, lo + j, r] = reported[R_T1, j]
        tel[T_T2, lo + j, r] = reported[R_T2, j]
        check[lo + j, r] = reported[R_CHECK, j]


@njit(cache=True, parallel=True, nogil=True, error_model="numpy")
def simulate_chunk(
    params: np.ndarray,
    state: np.ndarray,
    keys: np.ndarray,
    faults: FaultArrays,
    k0: int,
    n_steps: int,
    acceleration: float,
    replace_after_s: float,
    out: ChunkBuffers,
) -> None:
    """Advance every device by ``n_steps`` steps from global step ``k0`` (even), in place.

    Devices go in blocks of :data:`BLOCK` (in parallel); within a block the steps run in order,
    each the stages of :mod:`simulator._step`: process faults → physics → failures and
    replacements → vibration (readings only) → sensor faults → safety and contract checks.
    ``acceleration`` multiplies wear; a failed motor is replaced ``replace_after_s`` s later
    (< 0: never). Results go to ``out`` and ``state``.
    """
    tel, check, wear, first_life, flags_out, emit_out, life, life_count = out
    wear_per_step = acceleration * DT_S / NOMINAL_LIFE_S
    n_devices = params.shape[0]
    for b in prange((n_devices + BLOCK - 1) // BLOCK):
        lo = b * BLOCK
        hi = min(n_devices, lo + BLOCK)
        nb = hi - lo
        st, pb, phi = _load_block(params, state, lo, nb)
        mods = np.zeros((N_MOD, BLOCK))
        reported = np.empty((N_REPORTED, BLOCK))
        amps = np.empty((N_AMPS, BLOCK))
        stress = np.empty(BLOCK)
        event = np.zeros(BLOCK, np.int64)
        n_life = np.zeros(BLOCK, np.int64)
        values = np.empty(N_MEASURED)
        p_dev, p_ptr, p_ev, s_dev, s_ptr, s_ev = _active_faults(
            faults.kind,
            faults.start_s,
            faults.end_s,
            faults.pointers,
            lo,
            hi,
            k0 * DT_S,
            (k0 + n_steps - 1) * DT_S,
        )
        for i in range(n_steps):
            k = k0 + i
            t = k * DT_S
            reading = k % TELEMETRY_EVERY == 0
            process_faults(faults, p_dev, p_ptr, p_ev, t, mods)
            n_events = physics(
                st,
                pb,
                mods,
                keys,
                lo,
                nb,
                k,
                t,
                wear_per_step,
                replace_after_s,
                amps,
                reported,
                stress,
                event,
            )
            if n_events:
                log_life_events(event, nb, t, life, n_life, lo)
            if reading:
                vibration(pb, phi, amps, keys, lo, nb, k, t, reported)
            sensor_faults(faults, s_dev, s_ptr, s_ev, keys, lo, t, k, reading, values, reported)
            safety(st, pb, mods, reported, nb, k, i, lo, flags_out, emit_out)
            if reading:
                r = i // TELEMETRY_EVERY
                _store_reading(reported, nb, lo, r, tel, check)
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
    kernel: Callable[..., None] = simulate_chunk,
) -> None:
    """Run :func:`simulate_chunk` (or its reference twin ``simulate_chunk.py_func``) on buffers."""
    if k0 % TELEMETRY_EVERY or n_steps % TELEMETRY_EVERY:
        raise ValueError(f"chunks start and end on telemetry steps: k0={k0}, n_steps={n_steps}")
    out.life[:] = 0.0
    kernel(params, state, keys, faults, k0, n_steps, acceleration, replace_after_s, out)
