"""The MQTT side of ingestion: the topics, shared subscriptions and session properties.

The client itself comes from :class:`modax.mqtt.ClientFactory`, like every client of modax.
"""

from __future__ import annotations

from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from modax.mqtt import MqttError
from modax.schema import LEGACY_SAFETY_TOPIC, LEGACY_TELEMETRY_TOPIC

__all__ = ["DEFAULT_TOPICS", "IngestError", "connect_properties", "shared_topic"]

#: What ``modax ingest`` subscribes to: per-device telemetry, safety and status, and the MODAX
#: firmware's legacy topics.
DEFAULT_TOPICS = (
    "modax/devices/+/telemetry",
    "modax/devices/+/safety",
    "modax/devices/+/status",
    LEGACY_TELEMETRY_TOPIC,
    LEGACY_SAFETY_TOPIC,
)


class IngestError(MqttError):
    """Ingestion cannot go on (refused credentials, TLS verification failed); says what to fix."""


def shared_topic(topic: str, group: str | None) -> str:
    """The MQTT 5 shared-subscription form of ``topic`` for ``group`` (``topic`` when ``None``).

    Examples
    --------
    >>> shared_topic("modax/devices/+/telemetry", "modax")
    '$share/modax/modax/devices/+/telemetry'
    """
    return topic if group is None else f"$share/{group}/{topic}"


def connect_properties(session_expiry_s: int, receive_maximum: int) -> Properties:
    """CONNECT properties: session kept ``session_expiry_s`` s, ``receive_maximum`` unacked."""
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = session_expiry_s
    props.ReceiveMaximum = receive_maximum
    return props
