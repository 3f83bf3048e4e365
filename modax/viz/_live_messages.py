"""Decode every live MQTT message a dashboard receives, including derived events and advisories.

Telemetry, device safety and status go through :func:`modax.schema.decode` unchanged. Safety
events published by the ingester (``modax/devices/{id}/events``, one ``safety_events`` row as
JSON, see ``docs/safety-rules.md``) and model advisories (``modax/devices/{id}/advisory``) are
decoded here with the same rules for the device id and the topic. Anything else raises
:class:`modax.schema.MessageError`, so a malformed message never reaches a page.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from modax.schema import (
    DEVICE_ID_PATTERN,
    DeviceStatus,
    Kind,
    MessageError,
    Reason,
    SafetyStatus,
    Telemetry,
    check_size,
    decode,
    parse_topic,
)

__all__ = ["Advisory", "LiveMessage", "Recommendation", "SafetyEvent", "decode_live"]


class SafetyEvent(msgspec.Struct):
    """A state change of one safety rule of one device (a ``safety_events`` row).

    Attributes
    ----------
    device_id : str
        The device.
    ts : int
        Event time, epoch ms (UTC).
    kind : str
        The rule: ``overload``, ``overtemp``, ``temp_rise``, ``current_imbalance``,
        ``sensor_stuck``, ``emergency_stop``, ``door_open`` or ``stale``.
    state : {"begin", "end"}
        Whether the condition starts or ends.
    value, threshold : float or None
        The reading that caused the change and the rule's limit (units of the rule).

    Examples
    --------
    >>> SafetyEvent("m1", 1_700_000_000_000, "overload", "begin", 12.5, 10.0).state
    'begin'
    """

    device_id: str
    ts: int
    kind: str
    state: Literal["begin", "end"]
    value: float | None = None
    threshold: float | None = None


class Recommendation(msgspec.Struct):
    """One piece of advice inside an :class:`Advisory` (``modax.advisory`` writes them)."""

    code: str
    message: str
    severity: str = "info"


class Advisory(msgspec.Struct):
    """An advisory alert from a model, as ``modax advise`` publishes it (AI is advisory only: it
    never changes a safety state).

    Attributes
    ----------
    device_id : str
        The device.
    ts : int
        Time of the scored reading, epoch ms (UTC).
    state : {"raised", "cleared"} or None
        Whether the model starts or stops alerting; ``None`` for a plain score update.
    kind : str
        What the model says (``advisory`` for anomaly alerts, ``wear``...).
    model : str or None
        The model's name.
    score, threshold : float or None
        Anomaly score and the model's alarm threshold (higher is more anomalous).
    rul_h : float or None
        Estimated remaining useful life in hours.
    recommendations : list of Recommendation
        Advice for the operator, most urgent first.

    Examples
    --------
    >>> Advisory("m1", 1_700_000_000_000, state="raised", score=0.93, threshold=0.5).state
    'raised'
    """

    device_id: str
    ts: int
    state: Literal["raised", "cleared"] | None = None
    kind: str = "advisory"
    model: str | None = None
    score: float | None = None
    threshold: float | None = None
    rul_h: float | None = None
    recommendations: list[Recommendation] = msgspec.field(default_factory=list)


LiveMessage = Telemetry | SafetyStatus | DeviceStatus | SafetyEvent | Advisory

_DECODERS = {
    Kind.EVENTS: msgspec.json.Decoder(SafetyEvent),
    Kind.ADVISORY: msgspec.json.Decoder(Advisory),
}


def _derived(kind: Kind, topic_device: str | None, payload: bytes) -> SafetyEvent | Advisory:
    check_size(payload)
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
