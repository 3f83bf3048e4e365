"""Arrow schemas of the lake tables: one source for every writer and reader.

Times are UTC: ``timestamp[ms, tz=UTC]`` columns, and ``date`` (the UTC day of ``ts``) is the
partition column of every table. Units: currents in A, temperatures in °C, vibration in m/s².
"""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa

__all__ = [
    "DEVICES_SCHEMA",
    "DEVICE_SAFETY_SCHEMA",
    "MAX_CHANNELS",
    "QUARANTINE_RAW_SCHEMA",
    "QUARANTINE_SCHEMA",
    "SAFETY_RAW_SCHEMA",
    "STATUS_RAW_SCHEMA",
    "TELEMETRY_CHANNELS",
    "TELEMETRY_RAW_SCHEMA",
    "TELEMETRY_SCHEMA",
    "UTC_MS",
    "pooled_array",
]

#: Most motor currents / temperatures one telemetry message may carry.
MAX_CHANNELS = 4
#: Timestamp type used everywhere: epoch milliseconds, UTC.
UTC_MS = pa.timestamp("ms", tz="UTC")

#: Numeric telemetry columns, in order: currents (A), vibration (m/s²), temperatures (°C).
TELEMETRY_CHANNELS: tuple[str, ...] = (
    *(f"current_{i}" for i in range(1, MAX_CHANNELS + 1)),
    "vib_x",
    "vib_y",
    "vib_z",
    "vib_mag",
    *(f"temp_{i}" for i in range(1, MAX_CHANNELS + 1)),
)

_KEY = [
    pa.field("device_id", pa.string(), nullable=False),
    pa.field("seq", pa.int64()),
    pa.field("timestamp", pa.int64(), nullable=False),
]

#: Telemetry as decoded, before event time is derived.
TELEMETRY_RAW_SCHEMA = pa.schema(
    [
        *_KEY,
        pa.field("received_at", UTC_MS),
        *(pa.field(c, pa.float64()) for c in TELEMETRY_CHANNELS),
    ]
)
#: The ``telemetry`` lake table: one row per reading.
TELEMETRY_SCHEMA = pa.schema(
    [
        *_KEY,
        pa.field("ts", UTC_MS),
        pa.field("received_at", UTC_MS),
        *(pa.field(c, pa.float64()) for c in TELEMETRY_CHANNELS),
        pa.field("date", pa.date32()),
    ]
)

_SAFETY_FLAGS = [
    pa.field("emergency_stop", pa.bool_()),
    pa.field("door_closed", pa.bool_()),
    pa.field("overload_detected", pa.bool_()),
    pa.field("temperature_ok", pa.bool_()),
]
#: Device safety messages as decoded.
SAFETY_RAW_SCHEMA = pa.schema([*_KEY, pa.field("received_at", UTC_MS), *_SAFETY_FLAGS])
#: The ``device_safety`` lake table.
DEVICE_SAFETY_SCHEMA = pa.schema(
    [
        *_KEY,
        pa.field("ts", UTC_MS),
        pa.field("received_at", UTC_MS),
        *_SAFETY_FLAGS,
        pa.field("date", pa.date32()),
    ]
)

_STATUS = [
    pa.field("device_id", pa.string(), nullable=False),
    pa.field("online", pa.bool_()),
    pa.field("timestamp", pa.int64()),
    pa.field("firmware_version", pa.string()),
    pa.field("uptime_ms", pa.int64()),
]
#: Device status (heartbeat / last will) as decoded.
STATUS_RAW_SCHEMA = pa.schema([*_STATUS, pa.field("received_at", UTC_MS)])
#: The ``devices`` lake table: every status message, newest last.
DEVICES_SCHEMA = pa.schema(
    [*_STATUS, pa.field("received_at", UTC_MS), pa.field("date", pa.date32())]
)

#: Rejected messages as decoded.
QUARANTINE_RAW_SCHEMA = pa.schema(
    [
        pa.field("topic", pa.string()),
        pa.field("payload", pa.binary()),
        pa.field("reason", pa.string()),
        pa.field("field", pa.string()),
        pa.field("detail", pa.string()),
        pa.field("received_at", UTC_MS),
    ]
)
#: The ``quarantine`` lake table: raw payload, topic, machine-readable reason, time.
QUARANTINE_SCHEMA = QUARANTINE_RAW_SCHEMA.append(pa.field("date", pa.date32()))


def pooled_array(shape: tuple[int, ...], dtype: type | np.dtype) -> np.ndarray:
    """An uninitialised C-contiguous array in Arrow's memory pool, for columns of these tables.

    For large kernel outputs that become Arrow columns: Arrow's allocator (mimalloc) keeps freed
    memory and hands it out again, where ``np.empty`` of a large array gets fresh pages from the
    OS every time, which the kernel then faults in and the OS zeroes (in a VM, memory no process
    has touched yet costs milliseconds per MB). The tables made from the array hold its buffer
    as long as they need it.

    Examples
    --------
    >>> out = pooled_array((2, 3), np.float64)
    >>> out.shape, out.flags.c_contiguous, out.flags.writeable
    ((2, 3), True, True)
    """
    count = math.prod(shape)
    buffer = pa.allocate_buffer(max(count * np.dtype(dtype).itemsize, 1))
    return np.frombuffer(buffer, dtype, count=count).reshape(shape)
