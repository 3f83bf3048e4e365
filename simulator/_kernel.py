"""The physics kernel: one chunk of simulated time for every device, 20 Hz steps, in numba.

Each 50 ms step runs the firmware's 20 Hz safety check; every second step is also a 10 Hz
telemetry reading. Per device and step: faults → load → cut-out → currents → thermal → vibration
→ wear → sensors → sensor faults → safety flags. All state lives in a ``(n_devices, N_STATE)``
array carried from chunk to chunk, and every random number is counter-based, so a run cut into
any chunks gives the same numbers bit for bit. ``simulate_chunk.py_func`` is the plain-Python
reference twin.

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

from simulator._electrical import phase_currents
from simulator._faults import FaultEvents, apply_sensor_faults, overlapping, process_modifiers
from simulator._load import PROFILE_START_STOP, load_fraction
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

#: Physics and safety-check step, s (20 Hz).
DT_S = 0.05
#: A telemetry reading every this many steps (10 Hz).
TELEMETRY_EVERY = 2
#: A safety message at least every this many steps (1 s), and on every change.
SAFETY_EVERY = 20
#: The firmware's overload limit: any phase current above it, A.
OVERLOAD_LIMIT_A = 10.0
#: The firmware's temperature limit: ``temperature_ok`` is ``T < 85 °C`` on every channel.
TEMPERATURE_LIMIT_C = 85.0
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
    wear : numpy.ndarray, shape (2, n_devices, n_life)
        True damage and stress factor at readings ``first_life``, ``first_life + LIFE_EVERY``, …
        of the chunk.
    flags : numpy.ndarray of uint8, shape (n_devices, n_steps)
        Safety flags after every 20 Hz check (``FLAG_*`` bits).
    emit : numpy.ndarray of bool, shape (n_devices, n_steps)
        Where the device publishes a safety message (on change, and at least every second).
    life : numpy.ndarray, shape (n_devices, MAX_LIFE_EVENTS, 2)
        ``(time_s, LIFE_FAILED | LIFE_REPLACED)`` events of the chunk; ``life_count`` per device.
    """

    telemetry: np.ndarray
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
            np.empty((N_TEL, n_devices, n_readings)),
            np.empty((2, n_devices, n_life)),
            first_life,
            np.empty((n_devices, n_steps), np.uint8),
            np.empty((n_devices, n_steps), np.bool_),
            np.zeros((n_devices, MAX_LIFE_EVENTS, 2)),
            np.zeros(n_devices, np.int64),
        )


@njit(cache=True, parallel=True, nogil=True)
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
    wear: np.ndarray,
    first_life: int,
    flags_out: np.ndarray,
    emit_out: np.ndarray,
    life: np.ndarray,
    life_count: np.ndarray,
) -> None:
    """Advance every device by ``n_steps`` steps from global step ``k0`` (even), in place."""
    t_lo, t_hi = TEMPERATURE_RANGE_C
    i_lim = CURRENT_RANGE_A
    v_lim = VIBRATION_RANGE_MS2
    wear_per_step = acceleration * DT_S / NOMINAL_LIFE_S
    for d in prange(params.shape[0]):
        key = keys[d]
        p = params[d]
        m = np.empty(7)
        process, sensor = overlapping(
            f_kind, f_start, f_end, f_ptr[d], f_ptr[d + 1], k0 * DT_S, (k0 + n_steps - 1) * DT_S
        )
        profile = int(p[P_PROFILE])
        cos_phi2 = math.cos(p[P_PHI2])
        sin_phi2 = math.sin(p[P_PHI2])
        tw = state[d, S_TW]
        tb = state[d, S_TB]
        damage = state[d, S_DAMAGE]
        tslow = state[d, S_TSLOW]
        failed_at = state[d, S_FAILED_AT]
        on_since = state[d, S_ON_SINCE]
        running = state[d, S_RUNNING] > 0.5
        tripped = state[d, S_TRIPPED] > 0.5
        last_flags = int(state[d, S_FLAGS])
        last_emit = state[d, S_LAST_EMIT]
        count = state[d, S_SAFETY_COUNT]
        added = state[d, S_DAMAGE_ADDED]
        n_life = 0
        for i in range(n_steps):
            k = k0 + i
            t = k * DT_S
            imb = mis = bear = over = cool = phase = 0.0
            estop = door = False
            if len(process):
                imb, mis, bear, over, cool, phase, estop, door = process_modifiers(
                    f_kind, f_start, f_end, f_sev, process, t
                )
            if (
                not math.isnan(failed_at)
                and replace_after_s >= 0.0
                and t >= failed_at + replace_after_s
            ):
                failed_at = math.nan
                damage = 0.0
                if n_life < life.shape[1]:
                    life[d, n_life, 0] = t
                    life[d, n_life, 1] = LIFE_REPLACED
                    n_life += 1
            load = load_fraction(
                profile, p[P_LOAD], p[P_AMP], p[P_PERIOD], p[P_PHASE], p[P_DUTY], key, t
            )
            if tripped and tw < CUTOUT_RESET_C:
                tripped = False
            elif not tripped and tw >= CUTOUT_TRIP_C:
                tripped = True
            run = load > 0.0 and not estop and not door and math.isnan(failed_at) and not tripped
            if run and not running:
                on_since = t
            running = run
            i1, i2 = phase_currents(
                load if run else 0.0,
                p[P_RATED],
                damage,
                over,
                t - on_since,
                phase,
                p[P_ASYM1],
                p[P_ASYM2],
            )
            tw, tb = thermal_step(
                tw,
                tb,
                p[P_AMBIENT],
                p[P_RISE],
                p[P_AW],
                p[P_AB],
                i1,
                i2,
                p[P_RATED],
                cool,
                friction_rise(run, damage, bear, mis, imb),
            )
            a1, a2, ab, az, sm = amplitudes(run, p[P_A1], p[P_A2], p[P_AB0], imb, mis, bear, damage)
            tslow += (tw - tslow) * _CYCLING_ALPHA
            stress = 0.0
            if run:
                stress = stress_factor(
                    0.5 * (i1 + i2),
                    max(i1, i2),
                    dynamic_mean_square(a1, a2, ab, az, sm),
                    max(tw, tb),
                    abs(tw - tslow) > CYCLING_C,
                )
                increment = wear_per_step * stress
                damage += increment
                added += increment
                if damage >= 1.0:
                    damage = 1.0
                    failed_at = t
                    if n_life < life.shape[1]:
                        life[d, n_life, 0] = t
                        life[d, n_life, 1] = LIFE_FAILED
                        n_life += 1
            n_c1, n_c2 = normal_pair(key, k, _S_CURRENTS)
            n_t1, n_t2 = normal_pair(key, k, _S_TEMPERATURES)
            m[0] = sense(i1, CURRENT_NOISE_A * n_c1, -i_lim, i_lim, CURRENT_RESOLUTION)
            m[1] = sense(i2, CURRENT_NOISE_A * n_c2, -i_lim, i_lim, CURRENT_RESOLUTION)
            m[5] = sense(tw, TEMPERATURE_NOISE_C * n_t1, t_lo, t_hi, TEMPERATURE_RESOLUTION)
            m[6] = sense(tb, TEMPERATURE_NOISE_C * n_t2, t_lo, t_hi, TEMPERATURE_RESOLUTION)
            reading = k % TELEMETRY_EVERY == 0
            if reading:
                n_mx, n_my = normal_pair(key, k, _S_MACHINE_XY)
                n_mz, n_vx = normal_pair(key, k, _S_MACHINE_Z)
                n_vy, n_vz = normal_pair(key, k, _S_VIBRATION_YZ)
                turns = p[P_FROT] * t
                x, y, z = axes(
                    a1,
                    a2,
                    ab,
                    az,
                    sm,
                    turns - math.floor(turns),
                    p[P_BPFO],
                    cos_phi2,
                    sin_phi2,
                    n_mx,
                    n_my,
                    n_mz,
                )
                noise = VIBRATION_NOISE_MS2
                m[2] = sense(x, noise * n_vx, -v_lim, v_lim, VIBRATION_RESOLUTION)
                m[3] = sense(y, noise * n_vy, -v_lim, v_lim, VIBRATION_RESOLUTION)
                m[4] = sense(z, noise * n_vz, -v_lim, v_lim, VIBRATION_RESOLUTION)
            if len(sensor):
                apply_sensor_faults(
                    f_kind, f_start, f_end, f_sev, f_chan, f_hold, sensor, t, k, key, m, reading
                )
            flags = 0
            if estop:
                flags |= FLAG_ESTOP
            if door:
                flags |= FLAG_DOOR_OPEN
            if abs(m[0]) > OVERLOAD_LIMIT_A or abs(m[1]) > OVERLOAD_LIMIT_A:
                flags |= FLAG_OVERLOAD
            if m[5] >= TEMPERATURE_LIMIT_C or m[6] >= TEMPERATURE_LIMIT_C:
                flags |= FLAG_TEMPERATURE
            flags_out[d, i] = flags
            if flags != last_flags or k - last_emit >= SAFETY_EVERY:
                emit_out[d, i] = True
                last_flags = flags
                last_emit = k
                count += 1.0
            else:
                emit_out[d, i] = False
            if reading:
                j = i // TELEMETRY_EVERY
                tel[T_C1, d, j] = m[0]
                tel[T_C2, d, j] = m[1]
                tel[T_VX, d, j] = m[2]
                tel[T_VY, d, j] = m[3]
                tel[T_VZ, d, j] = m[4]
                tel[T_VMAG, d, j] = math.sqrt(m[2] * m[2] + m[3] * m[3] + m[4] * m[4])
                tel[T_T1, d, j] = m[5]
                tel[T_T2, d, j] = m[6]
                if j >= first_life and (j - first_life) % LIFE_EVERY == 0:
                    wear[0, d, (j - first_life) // LIFE_EVERY] = damage
                    wear[1, d, (j - first_life) // LIFE_EVERY] = stress
        state[d, S_TW] = tw
        state[d, S_TB] = tb
        state[d, S_DAMAGE] = damage
        state[d, S_TSLOW] = tslow
        state[d, S_FAILED_AT] = failed_at
        state[d, S_ON_SINCE] = on_since
        state[d, S_RUNNING] = 1.0 if running else 0.0
        state[d, S_TRIPPED] = 1.0 if tripped else 0.0
        state[d, S_FLAGS] = last_flags
        state[d, S_LAST_EMIT] = last_emit
        state[d, S_SAFETY_COUNT] = count
        state[d, S_DAMAGE_ADDED] = added
        life_count[d] = n_life


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
        out.wear,
        out.first_life,
        out.flags,
        out.emit,
        out.life,
        out.life_count,
    )
