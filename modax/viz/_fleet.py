"""The live state of a fleet: last values, status, recent readings and alarms of every device.

One :class:`FleetState` per dashboard server process is fed by the shared MQTT subscription
(:mod:`modax.viz._feed`) and read by every session. Memory is bounded: each device keeps a fixed
ring of recent readings and a short sparkline; the alarm log and the quarantine sample are capped.
"""

from __future__ import annotations

import math
import threading
from collections import Counter, deque
from dataclasses import dataclass, field

import numpy as np

from modax.schema import (
    DEFAULT_SAFETY,
    EPOCH_MS_THRESHOLD,
    TELEMETRY_CHANNELS,
    Advisory,
    DeviceStatus,
    MessageError,
    SafetyEvent,
    SafetyStatus,
    Telemetry,
)
from modax.viz._alarms import AlarmLog, now_ms
from modax.viz._live_messages import LiveMessage

__all__ = [
    "OVERLOAD_CURRENT_A",
    "OVERTEMP_C",
    "DeviceState",
    "FleetState",
    "QuarantinedMessage",
]

#: Overload when any motor current exceeds this, in A (``modax.schema.DEFAULT_SAFETY``).
OVERLOAD_CURRENT_A = DEFAULT_SAFETY.overload_current_a
#: Over-temperature when any temperature reaches this, in °C (``modax.schema.DEFAULT_SAFETY``).
OVERTEMP_C = DEFAULT_SAFETY.max_temperature_c
_SPARK_POINTS = 40
_N_CURRENTS = 4
_SAFETY_SOURCES = frozenset({"safety", "device", "live-rule"})


class _Ring:
    """Fixed-size ring of readings: event times (epoch ms) and channel values."""

    __slots__ = ("count", "times", "values")

    def __init__(self, size: int) -> None:
        self.times = np.zeros(size, dtype=np.int64)
        self.values = np.full((size, len(TELEMETRY_CHANNELS)), np.nan, dtype=np.float32)
        self.count = 0

    def push(self, ts: int, row: np.ndarray) -> None:
        i = self.count % len(self.times)
        self.times[i] = ts
        self.values[i] = row
        self.count += 1

    def since(self, cursor: int) -> tuple[int, np.ndarray, np.ndarray]:
        size = len(self.times)
        start = max(cursor, self.count - size, 0)
        idx = np.arange(start, self.count) % size
        return self.count, self.times[idx], self.values[idx].astype(np.float64)


@dataclass
class DeviceState:
    """What the dashboard knows about one device.

    Attributes
    ----------
    device_id : str
        The device.
    online : bool or None
        From its status messages (``False`` after its last will); ``None`` before any.
    inactive : bool
        Whether it has gone quiet for longer than the inactivity timeout.
    last_ts_ms, last_seen_ms : int
        Event time of its last reading and wall-clock time it arrived, epoch ms (UTC).
    last : numpy.ndarray
        Its last reading, one value per ``modax.schema.TELEMETRY_CHANNELS`` (A, m/s², °C; NaN
        for absent channels).
    score, rul_h : float or None
        Latest anomaly score and remaining useful life (h) from a model advisory.
    rul_low_h, rul_high_h, rul_cap_h : float or None
        The remaining life's interval (nominal 80 %) and the model's cap, h (an estimate at the
        cap means "at least that long").
    version : int
        Fleet version of its last change.
    """

    device_id: str
    ring_size: int
    online: bool | None = None
    inactive: bool = False
    last_ts_ms: int = 0
    last_seen_ms: int = 0
    last: np.ndarray = field(
        default_factory=lambda: np.full(len(TELEMETRY_CHANNELS), np.nan, dtype=np.float64)
    )
    score: float | None = None
    rul_h: float | None = None
    rul_low_h: float | None = None
    rul_high_h: float | None = None
    rul_cap_h: float | None = None
    version: int = 0
    messages: int = 0

    def __post_init__(self) -> None:
        self.ring = _Ring(self.ring_size)
        self.spark: deque[float] = deque(maxlen=_SPARK_POINTS)
        self.scores: deque[tuple[int, float]] = deque(maxlen=self.ring_size)
        self.ruls: deque[tuple[int, float, float | None, float | None]] = deque(
            maxlen=self.ring_size
        )


@dataclass(frozen=True)
class QuarantinedMessage:
    """A live message the dashboard rejected (it never reaches a page)."""

    received_ms: int
    topic: str
    reason: str
    field: str | None
    detail: str


class FleetState:
    """Live state of every device, fed message by message; thread-safe.

    Parameters
    ----------
    alarms : AlarmLog, optional
        The alarm log (pass one with an ``AckStore`` to keep acknowledgements).
    ring_size : int
        Recent readings kept per device for the live plots (300 = 30 s at 10 Hz).
    inactive_after_s : float
        A device that sends nothing for this long raises an ``inactive`` alarm, in s.

    Examples
    --------
    >>> from modax.viz import decode_live
    >>> fleet = FleetState()
    >>> payload = (b'{"timestamp": 1700000000000, "device_id": "m1", "motor_currents": [12.5],'
    ...            b' "vibration": {"x": 0, "y": 0, "z": 9.8, "magnitude": 9.8},'
    ...            b' "temperatures": [40.0]}')
    >>> fleet.apply(decode_live("modax/devices/m1/telemetry", payload), received_ms=1)
    >>> fleet.row("m1")["state"], fleet.row("m1")["current_1"]
    ('alarm', 12.5)
    """

    def __init__(
        self,
        alarms: AlarmLog | None = None,
        ring_size: int = 300,
        inactive_after_s: float = 10.0,
    ) -> None:
        self.alarms = alarms if alarms is not None else AlarmLog()
        self.ring_size = ring_size
        self.inactive_after_ms = int(inactive_after_s * 1000)
        self.version = 0
        self.messages = 0
        self.quarantined: Counter[str] = Counter()
        self.recent_quarantine: deque[QuarantinedMessage] = deque(maxlen=50)
        self._devices: dict[str, DeviceState] = {}
        self._event_devices: set[str] = set()
        self._lock = threading.RLock()

    # --- feeding ------------------------------------------------------------------------------

    def apply(self, msg: LiveMessage, received_ms: int | None = None) -> None:
        """Apply one decoded message (see :func:`modax.viz.decode_live`)."""
        received = now_ms() if received_ms is None else received_ms
        with self._lock:
            self.messages += 1
            device = self._device(msg.device_id)
            device.messages += 1
            if isinstance(msg, Telemetry):
                self._telemetry(device, msg, received)
            elif isinstance(msg, SafetyEvent):
                self._safety_event(device, msg)
            elif isinstance(msg, Advisory):
                self._advisory(device, msg)
            elif isinstance(msg, SafetyStatus):
                self._device_safety(device, msg, received)
            elif isinstance(msg, DeviceStatus):
                self._status(device, msg, received)
            self._touch(device)

    def reject(self, topic: str, error: MessageError, received_ms: int | None = None) -> None:
        """Count a message that failed validation; it is kept only as a short sample."""
        received = now_ms() if received_ms is None else received_ms
        with self._lock:
            self.quarantined[error.reason.value] += 1
            self.recent_quarantine.appendleft(
                QuarantinedMessage(received, topic, error.reason.value, error.field, error.detail)
            )
            self.version += 1

    def check_inactivity(self, at_ms: int | None = None) -> list[str]:
        """Raise ``inactive`` alarms for devices quiet for longer than the timeout.

        Returns
        -------
        list of str
            Devices that went inactive in this call.
        """
        now = now_ms() if at_ms is None else at_ms
        went_quiet = []
        with self._lock:
            for device in self._devices.values():
                quiet = now - device.last_seen_ms > self.inactive_after_ms
                if quiet and not device.inactive and device.online is not False:
                    device.inactive = True
                    went_quiet.append(device.device_id)
                    self.alarms.raise_alarm(
                        device.device_id,
                        "inactive",
                        "monitor",
                        device.last_seen_ms + self.inactive_after_ms,
                        threshold=self.inactive_after_ms / 1000,
                    )
                    self._touch(device)
        return went_quiet

    # --- rules ------------------------------------------------------------------------------

    def _device(self, device_id: str) -> DeviceState:
        device = self._devices.get(device_id)
        if device is None:
            device = self._devices[device_id] = DeviceState(device_id, self.ring_size)
        return device

    def _touch(self, device: DeviceState) -> None:
        self.version += 1
        device.version = self.version

    def _alive(self, device: DeviceState, received: int) -> None:
        device.last_seen_ms = received
        if device.inactive:
            device.inactive = False
            self.alarms.clear(device.device_id, "inactive", received)
        if device.online is False:
            self.alarms.clear(device.device_id, "offline", received)
        device.online = True

    def _telemetry(self, device: DeviceState, msg: Telemetry, received: int) -> None:
        ts = msg.timestamp if msg.timestamp >= EPOCH_MS_THRESHOLD else received
        row = device.last
        row[:] = np.nan
        currents = msg.motor_currents
        row[: len(currents)] = currents
        vib = msg.vibration
        row[_N_CURRENTS : _N_CURRENTS + 4] = (vib.x, vib.y, vib.z, vib.magnitude)
        temps = msg.temperatures
        row[_N_CURRENTS + 4 : _N_CURRENTS + 4 + len(temps)] = temps
        device.last_ts_ms = ts
        device.ring.push(ts, row)
        peak = max(abs(c) for c in currents)
        device.spark.append(peak)
        self._alive(device, received)
        if device.device_id not in self._event_devices:
            hottest = max(temps)
            self._rule(
                device, "overload", peak > OVERLOAD_CURRENT_A, ts, (peak, OVERLOAD_CURRENT_A)
            )
            self._rule(device, "overtemp", hottest >= OVERTEMP_C, ts, (hottest, OVERTEMP_C))

    def _rule(self, device: DeviceState, kind: str, on: bool, ts: int, limit: tuple) -> None:
        if on:
            value, threshold = limit
            self.alarms.raise_alarm(
                device.device_id, kind, "live-rule", ts, value=value, threshold=threshold
            )
        elif self.alarms.is_active(device.device_id, kind):
            self.alarms.clear(device.device_id, kind, ts)

    def _safety_event(self, device: DeviceState, msg: SafetyEvent) -> None:
        if device.device_id not in self._event_devices:
            # The ingester's events now speak for this device: retire the fallback rules.
            self._event_devices.add(device.device_id)
            for kind in ("overload", "overtemp", "emergency_stop", "door_open"):
                self.alarms.clear(device.device_id, kind, msg.ts)
        if msg.state == "begin":
            self.alarms.raise_alarm(
                device.device_id,
                msg.kind,
                "safety",
                msg.ts,
                value=msg.value,
                threshold=msg.threshold,
            )
        else:
            self.alarms.clear(device.device_id, msg.kind, msg.ts)

    def _device_safety(self, device: DeviceState, msg: SafetyStatus, received: int) -> None:
        ts = msg.timestamp if msg.timestamp >= EPOCH_MS_THRESHOLD else received
        if device.device_id in self._event_devices:
            return
        for kind, on in (
            ("emergency_stop", msg.emergency_stop),
            ("door_open", not msg.door_closed),
        ):
            if on:
                self.alarms.raise_alarm(device.device_id, kind, "device", ts)
            else:
                self.alarms.clear(device.device_id, kind, ts)

    def _advisory(self, device: DeviceState, msg: Advisory) -> None:
        if msg.score is not None:
            device.score = msg.score
            device.scores.append((msg.ts, msg.score))
        if msg.rul_h is not None:
            device.rul_h = msg.rul_h
            device.rul_low_h, device.rul_high_h = msg.rul_low_h, msg.rul_high_h
            device.rul_cap_h = msg.rul_cap_h
            device.ruls.append((msg.ts, msg.rul_h, msg.rul_low_h, msg.rul_high_h))
        if msg.state == "raised":
            self.alarms.raise_alarm(
                device.device_id,
                "anomaly",
                "model",
                msg.ts,
                value=msg.score,
                threshold=msg.threshold,
                note=msg.recommendations[0].message if msg.recommendations else None,
            )
        elif msg.state == "cleared":
            self.alarms.clear(device.device_id, "anomaly", msg.ts)

    def _status(self, device: DeviceState, msg: DeviceStatus, received: int) -> None:
        if msg.online:
            self._alive(device, received)
        else:
            device.online = False
            self.alarms.raise_alarm(device.device_id, "offline", "monitor", received)

    # --- reading ----------------------------------------------------------------------------

    def device_ids(self) -> list[str]:
        """Known devices, sorted."""
        with self._lock:
            return sorted(self._devices)

    def changed_since(self, version: int) -> tuple[int, list[str]]:
        """The current version and the devices changed after ``version``."""
        with self._lock:
            ids = [d.device_id for d in self._devices.values() if d.version > version]
            return self.version, ids

    def row(self, device_id: str) -> dict[str, object]:
        """One table row: ``device_id, state, online, last_ts, current_1..4, temp_max, vib_mag,
        score, rul_h, rul_low_h, rul_high_h, rul_cap_h, alarms, spark`` (units: A, °C, m/s², h;
        ``last_ts`` epoch ms).
        """
        with self._lock:
            device = self._devices[device_id]
            active = self.alarms.active_devices_of(device_id)
            safety = sorted(kind for kind, source in active if source in _SAFETY_SOURCES)
            advisory = sorted(kind for kind, source in active if source == "model")
            if safety:
                state = "alarm"
            elif device.online is False:
                state = "offline"
            elif device.inactive:
                state = "inactive"
            elif advisory:
                state = "warning"
            else:
                state = "ok"
            last = device.last.tolist()
            temps = [t for t in last[_N_CURRENTS + 4 :] if not math.isnan(t)]
            return {
                "device_id": device_id,
                "state": state,
                "online": bool(device.online) and not device.inactive,
                "last_ts": device.last_ts_ms,
                **{f"current_{i + 1}": _num(last[i]) for i in range(_N_CURRENTS)},
                "temp_max": round(max(temps), 3) if temps else None,
                "vib_mag": _num(last[_N_CURRENTS + 3]),
                "score": device.score,
                "rul_h": device.rul_h,
                "rul_low_h": device.rul_low_h,
                "rul_high_h": device.rul_high_h,
                "rul_cap_h": device.rul_cap_h,
                "alarms": ", ".join(safety + advisory),
                "spark": list(device.spark),
            }

    def readings(self, device_id: str, cursor: int = 0) -> tuple[int, np.ndarray, np.ndarray]:
        """Readings of a device newer than ``cursor`` (at most the ring's size).

        Returns
        -------
        cursor : int
            Pass it back to get only what arrived after this call.
        times : numpy.ndarray
            Event times, epoch ms (UTC).
        values : numpy.ndarray
            One row per reading, one column per ``TELEMETRY_CHANNELS`` entry.
        """
        with self._lock:
            device = self._devices.get(device_id)
            if device is None:
                empty = np.empty((0, len(TELEMETRY_CHANNELS)))
                return cursor, np.empty(0, dtype=np.int64), empty
            return device.ring.since(cursor)

    def scores(self, device_id: str) -> list[tuple[int, float]]:
        """Recent ``(ts, score)`` anomaly scores of a device from model advisories (ts epoch ms)."""
        with self._lock:
            device = self._devices.get(device_id)
            return [] if device is None else list(device.scores)

    def remaining_life(self, device_id: str) -> list[tuple[int, float, float | None, float | None]]:
        """Recent ``(ts, rul_h, rul_low_h, rul_high_h)`` estimates of a device from model
        advisories (ts epoch ms; h).
        """
        with self._lock:
            device = self._devices.get(device_id)
            return [] if device is None else list(device.ruls)

    def kpis(self) -> dict[str, float | int | None]:
        """Fleet KPIs: ``devices``, ``online``, ``safety_alarms``, ``anomaly_alerts``,
        ``worst_rul_h`` with that device's ``worst_rul_low_h``, ``worst_rul_high_h`` and
        ``worst_rul_cap_h`` (h), ``quarantined``, ``messages``.
        """
        with self._lock:
            devices = list(self._devices.values())
            active = self.alarms.active_by_source()
            estimated = [d for d in devices if d.rul_h is not None]
            worst = min(estimated, key=lambda d: d.rul_h or 0.0) if estimated else None
            return {
                "devices": len(devices),
                "online": sum(1 for d in devices if d.online and not d.inactive),
                "safety_alarms": sum(n for s, n in active.items() if s in _SAFETY_SOURCES),
                "anomaly_alerts": active.get("model", 0),
                "worst_rul_h": worst.rul_h if worst else None,
                "worst_rul_low_h": worst.rul_low_h if worst else None,
                "worst_rul_high_h": worst.rul_high_h if worst else None,
                "worst_rul_cap_h": worst.rul_cap_h if worst else None,
                "quarantined": sum(self.quarantined.values()),
                "messages": self.messages,
            }


def _num(value: float) -> float | None:
    return None if math.isnan(value) else round(value, 3)
