"""Decode every live MQTT message a dashboard receives, including derived events and advisories.

Telemetry, device safety and status go through :func:`modax.schema.decode` unchanged. Safety
events published by the ingester (``modax/devices/{id}/events``, one ``safety_events`` row as
JSON, see ``docs/safety-rules.md``) and model advisories (``modax/devices/{id}/advisory``) are
decoded here into :class:`modax.schema.SafetyEvent` and :class:`modax.schema.Advisory`, with the
same rules for the device id and the topic. Anything else raises
:class:`modax.schema.MessageError`, so a malformed message never reaches a page.
"""

from __future__ import annotations

import msgspec

from modax.schema import (
    DEVICE_ID_PATTERN,
    Advisory,
    DeviceStatus,
    Kind,
    MessageError,
    Reason,
    SafetyEvent,
    SafetyStatus,
    Telemetry,
    check_nesting,
    check_size,
    decode,
    parse_topic,
)

__all__ = ["LiveMessage", "decode_live"]


LiveMessage = Telemetry | SafetyStatus | DeviceStatus | SafetyEvent | Advisory

_DECODERS = {
    Kind.EVENTS: msgspec.json.Decoder(SafetyEvent),
    Kind.ADVISORY: msgspec.json.Decoder(Advisory),
}


def _derived(kind: Kind, topic_device: str | None, payload: bytes) -> SafetyEvent | Advisory:
    check_size(payload)
    check_nesting(payload)
    try:
        msg = _DECODERS[kind].decode(payload)
    except msgspec.ValidationError as exc:
        raise MessageError(Reason.WRONG_TYPE, None, str(exc)) from None
    except msgspec.DecodeError as exc:
        raise MessageError(Reason.NOT_JSON, None, f"not valid JSON ({exc})") from None
    if not DEVICE_ID_PATTERN.match(msg.device_id):
        raise MessageError(
            Reason.INVALID_DEVICE_ID,
            "device_id",
            f"{msg.device_id[:80]!r} does not match {DEVICE_ID_PATTERN.pattern}",
        )
    if topic_device is not None and topic_device != msg.device_id:
        raise MessageError(
            Reason.DEVICE_ID_MISMATCH,
            "device_id",
            f"payload says {msg.device_id!r} but the topic names {topic_device!r}",
        )
    if msg.ts < 0:
        raise MessageError(Reason.NEGATIVE_TIMESTAMP, "ts", f"{msg.ts} is below 0")
    return msg


def decode_live(topic: str, payload: bytes) -> LiveMessage:
    """Decode and validate one message a dashboard subscribed to.

    Parameters
    ----------
    topic : str
        The MQTT topic.
    payload : bytes
        The raw payload.

    Returns
    -------
    Telemetry, SafetyStatus, DeviceStatus, SafetyEvent or Advisory

    Raises
    ------
    MessageError
        With the reason and the field, like :func:`modax.schema.decode`.

    Examples
    --------
    >>> decode_live("modax/devices/m1/events",
    ...             b'{"device_id":"m1","ts":1,"kind":"overload","state":"begin"}').kind
    'overload'
    >>> decode_live("modax/devices/m1/advisory", b'{"device_id":"m2","ts":1}')
    Traceback (most recent call last):
    ...
    modax.schema._reasons.MessageError: device_id_mismatch: device_id: payload says 'm2' but the \
topic names 'm1'
    """
    parsed = parse_topic(topic)
    if parsed is not None and parsed[0] in _DECODERS:
        return _derived(parsed[0], parsed[1], payload)
    return decode(topic, payload)
