"""The message contract shared by firmware, simulator, ingester, tests and docs.

JSON on the wire, exactly the field names the MODAX firmware publishes, plus a per-device
sequence number ``seq``. See :func:`decode` for the rules and :class:`Reason` for every way a
message can be rejected. :class:`SafetyEvent` and :class:`Advisory` are the messages modax
itself derives and publishes (safety events from the ingester, advice from ``modax advise``).
:data:`Command` messages steer a device or the digital twin (:func:`decode_command`); the device
answers each with a :class:`CommandAck`.
"""

from modax.schema._commands import (
    COMMAND_ID_PATTERN,
    DEVICE_COMMANDS,
    FAULT_CHANNELS,
    FAULT_KINDS,
    LOAD_RANGE,
    SAMPLE_RATE_RANGE_HZ,
    Command,
    CommandAck,
    InjectFault,
    Reboot,
    SetLoad,
    SetMotor,
    SetSampleRate,
    SetThresholds,
    command_type,
    decode_command,
)
from modax.schema._decode import (
    CURRENT_LIMIT_A,
    DEFAULT_MAX_CLOCK_SKEW_MS,
    DEVICE_ID_PATTERN,
    EPOCH_MS_THRESHOLD,
    MAX_NESTING,
    MAX_PAYLOAD_BYTES,
    TEMPERATURE_RANGE_C,
    VIBRATION_LIMIT_MS2,
    DecodedBatch,
    check_nesting,
    check_size,
    decode,
    decode_batch,
)
from modax.schema._events import Advisory, Recommendation, SafetyEvent
from modax.schema._messages import DeviceStatus, SafetyStatus, Telemetry, Vibration
from modax.schema._quarantine import QUARANTINE_PAYLOAD_BYTES, quarantine_rows
from modax.schema._reasons import MessageError, Reason
from modax.schema._safety_rules import DEFAULT_SAFETY, SafetyConfig
from modax.schema._tables import (
    DEVICE_SAFETY_SCHEMA,
    DEVICES_SCHEMA,
    MAX_CHANNELS,
    QUARANTINE_RAW_SCHEMA,
    QUARANTINE_SCHEMA,
    REMAINING_LIFE_ESTIMATES_SCHEMA,
    TELEMETRY_CHANNELS,
    TELEMETRY_SCHEMA,
    UTC_MS,
    pooled_array,
)
from modax.schema._topics import (
    LEGACY_SAFETY_TOPIC,
    LEGACY_TELEMETRY_TOPIC,
    MAX_TOPIC_LENGTH,
    Kind,
    parse_topic,
    topic_for,
)

__all__ = [
    "COMMAND_ID_PATTERN",
    "CURRENT_LIMIT_A",
    "DEFAULT_MAX_CLOCK_SKEW_MS",
    "DEFAULT_SAFETY",
    "DEVICES_SCHEMA",
    "DEVICE_COMMANDS",
    "DEVICE_ID_PATTERN",
    "DEVICE_SAFETY_SCHEMA",
    "EPOCH_MS_THRESHOLD",
    "FAULT_CHANNELS",
    "FAULT_KINDS",
    "LEGACY_SAFETY_TOPIC",
    "LEGACY_TELEMETRY_TOPIC",
    "LOAD_RANGE",
    "MAX_CHANNELS",
    "MAX_NESTING",
    "MAX_PAYLOAD_BYTES",
    "MAX_TOPIC_LENGTH",
    "QUARANTINE_PAYLOAD_BYTES",
    "QUARANTINE_RAW_SCHEMA",
    "QUARANTINE_SCHEMA",
    "REMAINING_LIFE_ESTIMATES_SCHEMA",
    "SAMPLE_RATE_RANGE_HZ",
    "TELEMETRY_CHANNELS",
    "TELEMETRY_SCHEMA",
    "TEMPERATURE_RANGE_C",
    "UTC_MS",
    "VIBRATION_LIMIT_MS2",
    "Advisory",
    "Command",
    "CommandAck",
    "DecodedBatch",
    "DeviceStatus",
    "InjectFault",
    "Kind",
    "MessageError",
    "Reason",
    "Reboot",
    "Recommendation",
    "SafetyConfig",
    "SafetyEvent",
    "SafetyStatus",
    "SetLoad",
    "SetMotor",
    "SetSampleRate",
    "SetThresholds",
    "Telemetry",
    "Vibration",
    "check_nesting",
    "check_size",
    "command_type",
    "decode",
    "decode_batch",
    "decode_command",
    "parse_topic",
    "pooled_array",
    "quarantine_rows",
    "topic_for",
]
