"""Test payloads built from the message contract's structs (``modax.schema``), never by hand.

Every test that needs a wire message takes it from here, so a change of the contract changes
them all at once::

    telemetry("m1", seq=3)                        # epoch-ms timestamp T0 + 300
    telemetry("m1", timestamp=100)                # a legacy device: ms since boot, no seq
    safety("m1", seq=3, emergency_stop=True)
    status("m1", online=False)
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from modax.schema import DeviceStatus, SafetyStatus, Telemetry, Vibration

#: Epoch ms of the first reading (2025-11-23, UTC).
T0 = 1_763_900_000_000
#: Milliseconds between readings (10 Hz).
PERIOD_MS = 100
_ENCODER = msgspec.json.Encoder()


def _at(seq: int | None, timestamp: int | None) -> int:
    return timestamp if timestamp is not None else T0 + (seq or 0) * PERIOD_MS


def telemetry(
    device: str,
    seq: int | None = None,
    *,
    timestamp: int | None = None,
    currents: Sequence[float] = (4.0,),
    temperatures: Sequence[float] = (40.0,),
    vibration: tuple[float, float, float, float] = (0.1, 0.0, 9.8, 9.8005),
) -> bytes:
    """A telemetry payload (A, °C, m/s²); ``timestamp`` defaults to ``T0 + seq × 100 ms``."""
    message = Telemetry(
        _at(seq, timestamp),
        device,
        [float(c) for c in currents],  # numpy scalars too
        Vibration(*(float(v) for v in vibration)),
        [float(t) for t in temperatures],
        seq,
    )
    return _ENCODER.encode(message)


def safety(
    device: str,
    seq: int | None = None,
    *,
    timestamp: int | None = None,
    emergency_stop: bool = False,
    door_closed: bool = True,
    overload_detected: bool = False,
    temperature_ok: bool = True,
) -> bytes:
    """A safety-status payload; ``timestamp`` defaults to ``T0 + seq × 100 ms``."""
    message = SafetyStatus(
        _at(seq, timestamp),
        device,
        emergency_stop,
        door_closed,
        overload_detected,
        temperature_ok,
        seq,
    )
    return _ENCODER.encode(message)


def status(device: str, online: bool = True, **fields: int | str) -> bytes:
    """A status payload (``timestamp``, ``firmware_version``, ``uptime_ms`` as keywords)."""
    return _ENCODER.encode(DeviceStatus(device, online, **fields))  # type: ignore[arg-type]
