"""MQTT topic layout: per-device topics and the MODAX firmware's legacy topics."""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "LEGACY_SAFETY_TOPIC",
    "LEGACY_TELEMETRY_TOPIC",
    "MAX_TOPIC_LENGTH",
    "Kind",
    "parse_topic",
    "topic_for",
]

LEGACY_TELEMETRY_TOPIC = "modax/sensor/data"
LEGACY_SAFETY_TOPIC = "modax/sensor/safety"
_PREFIX = "modax/devices/"


class Kind(StrEnum):
    """What a topic carries."""

    TELEMETRY = "telemetry"
    SAFETY = "safety"
    STATUS = "status"
    EVENTS = "events"
    ADVISORY = "advisory"
    COMMAND = "command"
    COMMAND_ACK = "command/ack"


_LEGACY = {LEGACY_TELEMETRY_TOPIC: Kind.TELEMETRY, LEGACY_SAFETY_TOPIC: Kind.SAFETY}
#: Longest topic of the contract, in characters: ``modax/devices/`` + a 64-character device id
#: + ``/`` + the longest kind. Longer topics are unknown before any other work is done.
MAX_TOPIC_LENGTH = len(_PREFIX) + 64 + 1 + max(len(k.value) for k in Kind)


def topic_for(device_id: str, kind: Kind | str) -> str:
    """Return the per-device topic, e.g. ``modax/devices/m1/telemetry``.

    Examples
    --------
    >>> topic_for("m1", "telemetry")
    'modax/devices/m1/telemetry'
    >>> topic_for("m1", Kind.COMMAND_ACK)
    'modax/devices/m1/command/ack'
    """
    return f"{_PREFIX}{device_id}/{Kind(kind).value}"


def parse_topic(topic: str) -> tuple[Kind, str | None] | None:
    """Split a topic into its kind and the device id it names (``None`` for legacy topics).

    Returns ``None`` for a topic modax does not know, including any longer than
    :data:`MAX_TOPIC_LENGTH`.

    Examples
    --------
    >>> parse_topic("modax/devices/m1/safety")
    (<Kind.SAFETY: 'safety'>, 'm1')
    >>> parse_topic("modax/sensor/data")
    (<Kind.TELEMETRY: 'telemetry'>, None)
    >>> parse_topic("other/topic") is None
    True
    """
    if len(topic) > MAX_TOPIC_LENGTH:
        return None
    legacy = _LEGACY.get(topic)
    if legacy is not None:
        return legacy, None
    if not topic.startswith(_PREFIX):
        return None
    device_id, _, kind = topic[len(_PREFIX) :].partition("/")
    try:
        return Kind(kind), device_id
    except ValueError:
        return None
