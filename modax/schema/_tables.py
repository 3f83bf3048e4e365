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

#: Rejected messages as decoded, one row per message (``count`` 1) or per group of identical
#: ones (same topic and payload).
#:
#: - ``topic``: the topic, at most :data:`~modax.schema.MAX_TOPIC_LENGTH` characters of it;
#: - ``payload``: the raw payload, at most its first
#:   :data:`~modax.schema.QUARANTINE_PAYLOAD_BYTES` bytes; null in a row that only counts
#:   repeats of a payload stored earlier (same ``payload_sha256``);
#: - ``reason``, ``field``, ``detail``: why (:class:`~modax.schema.Reason`), the field it names;
#: - ``received_at``: receive time of the row's first message (UTC), the partition source;
#: - ``payload_bytes``, ``payload_sha256``: size and SHA-256 (hex) of the whole payload;
#: - ``count``, ``first_seen``, ``last_seen``: how many identical messages the row stands for,
#:   and the receive times of the first and last of them.
#:
#: The last five columns were added by decision 0009 and are nullable: rows written before it
#: have them null (one message each, whole payload).
QUARANTINE_RAW_SCHEMA = pa.schema(
    [
        pa.field("topic", pa.string()),
        pa.field("payload", pa.binary()),
        pa.field("reason", pa.string()),
        pa.field("field", pa.string()),
        pa.field("detail", pa.string()),
        pa.field("received_at", UTC_MS),
        pa.field("payload_bytes", pa.int64()),
        pa.field("payload_sha256", pa.string()),
        pa.field("count", pa.int64()),
        pa.field("first_seen", UTC_MS),
        pa.field("last_seen", UTC_MS),
    ]
)
#: The ``quarantine`` lake table: bad input with its reason, size, hash and repeat count
#: (columns of :data:`QUARANTINE_RAW_SCHEMA`, plus ``date``, the UTC day of ``received_at``).
QUARANTINE_SCHEMA = QUARANTINE_RAW_SCHEMA.append(pa.field("date", pa.date32()))


#: The ``remaining_life_estimates`` lake table: what a registered remaining-life model said of a
#: device, one row per estimate (advisory only, never a safety decision).
#:
#: - ``ts``: event time of the newest reading the estimate used (UTC);
#: - ``model``, ``version``: the registered model's name and version;
#: - ``rul_h``, ``rul_low_h``, ``rul_high_h``: estimate and its interval (nominal 80 %), h;
#: - ``rul_cap_h``: the model's cap, h (an estimate at the cap means "at least");
#: - ``advisory``: always true.
REMAINING_LIFE_ESTIMATES_SCHEMA = pa.schema(
    [
        pa.field("device_id", pa.string(), nullable=False),
        pa.field("ts", UTC_MS, nullable=False),
        pa.field("model", pa.string()),
        pa.field("version", pa.string()),
        pa.field("rul_h", pa.float64()),
        pa.field("rul_low_h", pa.float64()),
        pa.field("rul_high_h", pa.float64()),
        pa.field("rul_cap_h", pa.float64()),
        pa.field("advisory", pa.bool_()),
    ]
)


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
