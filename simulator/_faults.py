"""Fault kinds, the fault event table, and how active faults modify the physics and the sensors.

A fault event is ``(device, kind, start_s, end_s, severity, channel)`` in simulation seconds;
severity is 0–1. Process faults change the physics (:func:`process_modifiers`), sensor faults
change the reported values (:func:`apply_sensor_faults`), safety faults set the device's safety
flags and stop the motor, network faults act on what is delivered (:mod:`simulator._network`).
``failure`` is not injected: wear produces it (:mod:`simulator._wear`).

Examples
--------
>>> FaultKind("overload").category
'electrical'
>>> FaultKind.DROPOUT.code
9
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import NamedTuple

import numpy as np
from numba import njit

from simulator._noise import uniform
from simulator._sensors import (
    CH_TEMP_1,
    CH_TEMP_2,
    CH_VIBRATION,
    CHANNELS,
    CURRENT_RANGE_A,
    DRIFT_FULL,
    DROPOUT_VALUE,
    SPIKE_SIZE,
    TEMPERATURE_RANGE_C,
    VIBRATION_RANGE_MS2,
)

__all__ = [
    "FaultArrays",
    "FaultEvents",
    "FaultKind",
    "apply_sensor_faults",
    "overlapping",
    "process_modifiers",
]


class FaultKind(StrEnum):
    """Every fault the simulator injects or produces, as ground truth names it."""

    BEARING_WEAR = "bearing_wear"
    IMBALANCE = "imbalance"
    MISALIGNMENT = "misalignment"
    OVERLOAD = "overload"
    OVERHEATING = "overheating"
    PHASE_IMBALANCE = "phase_imbalance"
    STUCK = "stuck"
    DRIFT = "drift"
    SPIKES = "spikes"
    DROPOUT = "dropout"
    ESTOP = "estop"
    DOOR_OPEN = "door_open"
    LOSS = "loss"
    DUPLICATES = "duplicates"
    REORDER = "reorder"
    BURST = "burst"
    CLOCK_SKEW = "clock_skew"
    REBOOT = "reboot"
    FAILURE = "failure"

    @property
    def code(self) -> int:
        """The integer the kernels use."""
        return _KINDS.index(self)

    @property
    def category(self) -> str:
        """One of mechanical, electrical, thermal, sensor, safety, network, wear."""
        return _CATEGORY[self]

    @property
    def default_channel(self) -> str | None:
        """The channel a sensor fault acts on when the scenario names none."""
        return _DEFAULT_CHANNEL.get(self)


_KINDS = tuple(FaultKind)
_CATEGORY = {
    **dict.fromkeys(("bearing_wear", "imbalance", "misalignment"), "mechanical"),
    **dict.fromkeys(("overload", "phase_imbalance"), "electrical"),
    "overheating": "thermal",
    **dict.fromkeys(("stuck", "drift", "spikes", "dropout"), "sensor"),
    **dict.fromkeys(("estop", "door_open"), "safety"),
    **dict.fromkeys(("loss", "duplicates", "reorder", "burst", "clock_skew", "reboot"), "network"),
    "failure": "wear",
}
_DEFAULT_CHANNEL = {
    FaultKind.STUCK: "temp_1",
    FaultKind.DRIFT: "temp_1",
    FaultKind.SPIKES: "current_1",
    FaultKind.DROPOUT: "temp_1",
}
K_BEARING = FaultKind.BEARING_WEAR.code
K_IMBALANCE = FaultKind.IMBALANCE.code
K_MISALIGNMENT = FaultKind.MISALIGNMENT.code
K_OVERLOAD = FaultKind.OVERLOAD.code
K_OVERHEATING = FaultKind.OVERHEATING.code
K_PHASE = FaultKind.PHASE_IMBALANCE.code
K_STUCK = FaultKind.STUCK.code
K_DRIFT = FaultKind.DRIFT.code
K_SPIKES = FaultKind.SPIKES.code
K_DROPOUT = FaultKind.DROPOUT.code
K_ESTOP = FaultKind.ESTOP.code
K_DOOR = FaultKind.DOOR_OPEN.code
#: Growth time of a bearing fault with no end, s.
BEARING_OPEN_RAMP_S = 600.0
#: Fraction of readings a spikes fault of severity 1 hits.
SPIKE_RATE = 0.05
_STREAM_SPIKE = 50
_STREAM_SPIKE_SIZE = 60
_SPAN_LO = (0, 1, 2, 5, 6)
_SPAN_HI = (1, 2, 5, 6, 7)
_DROPOUT = np.array(DROPOUT_VALUE)
_DRIFT = np.array(DRIFT_FULL)
_SPIKE = np.array(SPIKE_SIZE)
_LOW = np.array(
    [-CURRENT_RANGE_A, -CURRENT_RANGE_A, -VIBRATION_RANGE_MS2, *TEMPERATURE_RANGE_C[:1]]
)
_HIGH = np.array([CURRENT_RANGE_A, CURRENT_RANGE_A, VIBRATION_RANGE_MS2, TEMPERATURE_RANGE_C[1]])
_FIELDS = ("device", "kind", "channel", "start_s", "end_s", "severity", "hold")


@dataclass
class FaultEvents:
    """The fault events of a fleet, kept sorted by (device, start) for the kernels.

    Attributes
    ----------
    device, kind, channel : numpy.ndarray of int64
        Device index, :attr:`FaultKind.code`, channel code (−1: none).
    start_s, end_s, severity : numpy.ndarray of float64
        Interval in simulation seconds, severity 0–1.
    hold : numpy.ndarray of float64, shape (n, 3)
        The value a stuck sensor repeats (NaN until the fault begins).

    Examples
    --------
    >>> ev = FaultEvents()
    >>> ev.add([1, 0], FaultKind.OVERLOAD, [5.0, 9.0], [20.0, 30.0], [1.0, 0.5])
    >>> ev.device.tolist(), ev.start_s.tolist()
    ([0, 1], [9.0, 5.0])
    """

    device: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    kind: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    channel: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    start_s: np.ndarray = field(default_factory=lambda: np.empty(0))
    end_s: np.ndarray = field(default_factory=lambda: np.empty(0))
    severity: np.ndarray = field(default_factory=lambda: np.empty(0))
    hold: np.ndarray = field(default_factory=lambda: np.empty((0, 3)))

    def __len__(self) -> int:
        return len(self.device)

    def add(
        self,
        devices: np.ndarray | list[int],
        kind: FaultKind,
        start_s: np.ndarray | list[float],
        end_s: np.ndarray | list[float],
        severity: np.ndarray | list[float],
        channel: str | None = None,
    ) -> None:
        """Add events of one kind (arrays of equal length) and keep the table sorted."""
        self.extend([(devices, kind, start_s, end_s, severity, channel)])

    def extend(self, batches: list[tuple]) -> None:
        """Add several batches of :meth:`add`'s arguments: one concatenation, one sort."""
        parts: dict[str, list[np.ndarray]] = {name: [getattr(self, name)] for name in _FIELDS}
        for devices, kind, start_s, end_s, severity, channel in batches:
            n = len(devices)
            name = channel or kind.default_channel
            code = CHANNELS.index(name) if name is not None else -1
            parts["device"].append(np.asarray(devices, np.int64))
            parts["kind"].append(np.full(n, kind.code, np.int64))
            parts["channel"].append(np.full(n, code, np.int64))
            parts["start_s"].append(np.broadcast_to(start_s, n))
            parts["end_s"].append(np.broadcast_to(end_s, n))
            parts["severity"].append(np.broadcast_to(severity, n))
            parts["hold"].append(np.full((n, 3), np.nan))
        joined = {name: np.concatenate(arrays) for name, arrays in parts.items()}
        order = np.lexsort((joined["kind"], joined["start_s"], joined["device"]))
        for name, values in joined.items():
            setattr(self, name, values[order])

    def pointers(self, n_devices: int) -> np.ndarray:
        """CSR pointers: device ``d``'s events are ``ptr[d]:ptr[d + 1]``."""
        return np.searchsorted(self.device, np.arange(n_devices + 1)).astype(np.int64)

    def corrupts(self) -> np.ndarray:
        """Whether each event makes payloads invalid (a temperature dropout reads −127 °C)."""
        return (self.kind == K_DROPOUT) & np.isin(self.channel, [CH_TEMP_1, CH_TEMP_2])


@njit(cache=True)
def overlapping(
    kinds: np.ndarray,
    starts: np.ndarray,
    ends: np.ndarray,
    lo: int,
    hi: int,
    t_first: float,
    t_last: float,
) -> tuple[np.ndarray, np.ndarray]:
    """The events ``lo:hi`` (one device's) active at some ``t`` in ``[t_first, t_last]``.

    Returns the indices of the process and safety faults, and those of the sensor faults (network
    faults act on delivery, not here): the kernel scans only these at each step, however many
    events the device has had, and skips the scan when there are none.
    """
    process = np.empty(hi - lo, np.int64)
    sensor = np.empty(hi - lo, np.int64)
    n_process = n_sensor = 0
    for f in range(lo, hi):
        if starts[f] > t_last or ends[f] <= t_first:
            continue
        kind = kinds[f]
        if K_STUCK <= kind <= K_DROPOUT:
            sensor[n_sensor] = f
            n_sensor += 1
        elif kind <= K_DOOR:
            process[n_process] = f
            n_process += 1
    return process[:n_process], sensor[:n_sensor]


@njit(cache=True)
def process_modifiers(
    kinds: np.ndarray,
    starts: np.ndarray,
    ends: np.ndarray,
    severities: np.ndarray,
    events: np.ndarray,
    t: float,
) -> tuple[float, float, float, float, float, float, bool, bool]:
    """Severities of the process faults active at ``t`` among ``events`` (indices, one device).

    Returns ``(imbalance, misalignment, bearing, overload, cooling_failure, phase_imbalance,
    estop, door_open)``; a bearing fault grows as the square of its progress.
    """
    imb = mis = bear = over = cool = phase = 0.0
    estop = door = False
    for f in events:
        s = starts[f]
        e = ends[f]
        if t < s or t >= e:
            continue
        kind = kinds[f]
        sev = severities[f]
        if kind == K_BEARING:
            ramp = e - s if math.isfinite(e) else BEARING_OPEN_RAMP_S
            progress = min(1.0, (t - s) / ramp)
            bear = max(bear, sev * progress * progress)
        elif kind == K_IMBALANCE:
            imb = max(imb, sev)
        elif kind == K_MISALIGNMENT:
            mis = max(mis, sev)
        elif kind == K_OVERLOAD:
            over = max(over, sev)
        elif kind == K_OVERHEATING:
            cool = max(cool, sev)
        elif kind == K_PHASE:
            phase = max(phase, sev)
        elif kind == K_ESTOP:
            estop = True
        elif kind == K_DOOR:
            door = True
    return imb, mis, bear, over, cool, phase, estop, door


@njit(cache=True)
def apply_sensor_faults(
    kinds: np.ndarray,
    starts: np.ndarray,
    ends: np.ndarray,
    severities: np.ndarray,
    channels: np.ndarray,
    hold: np.ndarray,
    events: np.ndarray,
    t: float,
    step: int,
    key: np.uint64,
    values: np.ndarray,
    with_vibration: bool,
) -> None:
    """Apply the sensor faults active at ``t`` among ``events`` to reported ``values`` in place.

    ``values`` is ``[current_1, current_2, vib_x, vib_y, vib_z, temp_1, temp_2]``; the vibration
    channel is skipped unless ``with_vibration``. A stuck fault records its ``hold`` value the
    first time it acts.
    """
    for f in events:
        kind = kinds[f]
        if kind < K_STUCK or kind > K_DROPOUT:
            continue
        s = starts[f]
        e = ends[f]
        if t < s or t >= e:
            continue
        ch = channels[f]
        if ch == CH_VIBRATION and not with_vibration:
            continue
        a = _SPAN_LO[ch]
        b = _SPAN_HI[ch]
        sev = severities[f]
        if kind == K_STUCK:
            if math.isnan(hold[f, 0]):
                for i in range(a, b):
                    hold[f, i - a] = values[i]
            for i in range(a, b):
                values[i] = hold[f, i - a]
        elif kind == K_DROPOUT:
            for i in range(a, b):
                values[i] = _DROPOUT[ch]
        else:
            if kind == K_DRIFT:
                span = e - s if math.isfinite(e) else BEARING_OPEN_RAMP_S
                offset = sev * _DRIFT[ch] * min(1.0, (t - s) / span)
            elif uniform(key, step, _STREAM_SPIKE + ch) < SPIKE_RATE * sev:
                r = uniform(key, step, _STREAM_SPIKE_SIZE + ch)
                offset = (0.5 + (r % 0.5)) * _SPIKE[ch] * (1.0 if r < 0.5 else -1.0)
            else:
                offset = 0.0
            low = _LOW[min(ch, 3)]
            high = _HIGH[min(ch, 3)]
            values[a] = min(high, max(low, values[a] + offset))


class FaultArrays(NamedTuple):
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
