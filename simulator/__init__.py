"""The modax digital twin: a fleet of ESP32-monitored motors with physics, wear, faults and truth.

In a notebook::

    import simulator
    fleet = simulator.Fleet(n_devices=10, seed=1, scenario="mixed-faults")
    result = fleet.run(duration_s=600)
    result.telemetry            # pyarrow.Table, modax.schema.TELEMETRY_SCHEMA
    result.device_safety        # DEVICE_SAFETY_SCHEMA
    result.ground_truth         # fault intervals per device (GROUND_TRUTH_SCHEMA)
    result.remaining_life       # true damage and remaining life, 1 Hz (REMAINING_LIFE_SCHEMA)
    result.labels()             # per telemetry row: active fault, severity, anomaly
    result.messages()           # (received_ms, topic, payload) as a broker would receive them

``modax simulate`` writes the same tables into the lake, or publishes live over MQTT
(:class:`LivePublisher`). The model,
its equations and parameters are in ``simulator/README.md``. This package imports only
``modax.schema`` from modax.
"""

from simulator._faults import FaultKind
from simulator._fleet import DEFAULT_START, Fleet
from simulator._publish import LivePublisher
from simulator._result import SimResult, Wire, label_rows
from simulator._scenario import FaultRule, Scenario, ScenarioError, list_scenarios
from simulator._tables import GROUND_TRUTH_SCHEMA, REMAINING_LIFE_SCHEMA

__all__ = [
    "DEFAULT_START",
    "GROUND_TRUTH_SCHEMA",
    "REMAINING_LIFE_SCHEMA",
    "FaultKind",
    "FaultRule",
    "Fleet",
    "LivePublisher",
    "Scenario",
    "ScenarioError",
    "SimResult",
    "Wire",
    "label_rows",
    "list_scenarios",
]
