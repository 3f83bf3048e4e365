"""Arrow schemas of the simulator's ground-truth tables (the lake tables ``ground_truth`` and
``remaining_life``); telemetry and safety use ``modax.schema``'s lake schemas as they are.

``ground_truth`` — one row per fault interval:

==================  =====================  ==================================================
column              type                   meaning
==================  =====================  ==================================================
device_id           string                 the device
kind                string                 a :class:`~simulator.FaultKind` (``failure``: wear)
category            string                 mechanical, electrical, thermal, sensor, safety,
                                           network, wear
severity            float64                0–1 (1 for failures)
channel             string                 sensor channel of sensor faults, else null
start_ts, end_ts    timestamp[ms, UTC]     the interval ``[start, end)``; a failure's end is
                                           its replacement (null: never replaced)
corrupts_payload    bool                   its payloads break the contract on purpose
date                date32                 UTC day of ``start_ts`` (partition)
==================  =====================  ==================================================

``remaining_life`` — the true wear state of every device once a second:

==================  =====================  ==================================================
device_id           string
ts                  timestamp[ms, UTC]     simulation (true) time
damage              float64                cumulative wear damage, 0 (new) … 1 (failed)
stress_factor       float64                the MODAX stress factor at that instant (0: idle)
failed              bool                   the motor has failed and awaits replacement
rul_s               float64                true remaining useful life, s (0 once failed)
rul_exact           bool                   true: the failure happens within the simulated
                                           horizon and ``rul_s`` is exact; false: projected as
                                           ``(1 − damage) / mean damage rate`` of the device
date                date32                 UTC day of ``ts``
==================  =====================  ==================================================

Examples
--------
>>> GROUND_TRUTH_SCHEMA.names[:3]
['device_id', 'kind', 'category']
"""

from __future__ import annotations

import pyarrow as pa

from modax.schema import UTC_MS

__all__ = ["GROUND_TRUTH_SCHEMA", "REMAINING_LIFE_SCHEMA"]

GROUND_TRUTH_SCHEMA = pa.schema(
    [
        pa.field("device_id", pa.string(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("category", pa.string(), nullable=False),
        pa.field("severity", pa.float64()),
        pa.field("channel", pa.string()),
        pa.field("start_ts", UTC_MS, nullable=False),
        pa.field("end_ts", UTC_MS),
        pa.field("corrupts_payload", pa.bool_()),
        pa.field("date", pa.date32()),
    ]
)
REMAINING_LIFE_SCHEMA = pa.schema(
    [
        pa.field("device_id", pa.string(), nullable=False),
        pa.field("ts", UTC_MS, nullable=False),
        pa.field("damage", pa.float64()),
        pa.field("stress_factor", pa.float64()),
        pa.field("failed", pa.bool_()),
        pa.field("rul_s", pa.float64()),
        pa.field("rul_exact", pa.bool_()),
        pa.field("date", pa.date32()),
    ]
)
