"""Typed message structs: exactly the JSON the MODAX firmware publishes, plus ``seq``."""

from __future__ import annotations

import msgspec

__all__ = ["DeviceStatus", "SafetyStatus", "Telemetry", "Vibration"]


class Vibration(msgspec.Struct):
    """Acceleration as the MPU6050 sees it, in m/s².

    Examples
    --------
    >>> Vibration(x=0.1, y=-0.2, z=9.81, magnitude=9.813)
    Vibration(x=0.1, y=-0.2, z=9.81, magnitude=9.813)
    """

    x: float
    y: float
    z: float
    magnitude: float


class Telemetry(msgspec.Struct, omit_defaults=True):
    """One 10 Hz telemetry reading from a device.

    Attributes
    ----------
    timestamp : int
        Epoch ms when above 10¹² (NTP-synced device), otherwise ms since boot.
    device_id : str
        Matches ``^[A-Za-z0-9_.-]{1,64}$``.
    motor_currents : list of float
        1–4 phase/motor currents in A.
    vibration : Vibration
        Acceleration in m/s².
    temperatures : list of float
        1–4 temperatures in °C.
    seq : int or None
        Per-device sequence number (≥ 0), used to remove duplicates.

    Examples
    --------
    >>> import msgspec
    >>> t = Telemetry(1_700_000_000_000, "m1", [4.2, 4.1], Vibration(0, 0, 9.81, 9.81), [41.5])
    >>> msgspec.json.encode(t)[:44]
    b'{"timestamp":1700000000000,"device_id":"m1",'
    """

    timestamp: int
    device_id: str
    motor_currents: list[float]
    vibration: Vibration
    temperatures: list[float]
    seq: int | None = None


class SafetyStatus(msgspec.Struct, omit_defaults=True):
    """A device-reported safety message (20 Hz checks, published on change and every second).

    Examples
    --------
    >>> SafetyStatus(1_700_000_000_000, "m1", False, True, False, True).temperature_ok
    True
    """

    timestamp: int
    device_id: str
    emergency_stop: bool
    door_closed: bool
    overload_detected: bool
    temperature_ok: bool
    seq: int | None = None


class DeviceStatus(msgspec.Struct, omit_defaults=True):
    """Online/offline heartbeat; the offline form is the device's MQTT last will.

    Examples
    --------
    >>> DeviceStatus("m1", online=False).online
    False
    """

    device_id: str
    online: bool
    timestamp: int | None = None
    firmware_version: str | None = None
    uptime_ms: int | None = None
