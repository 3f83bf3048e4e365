"""Commands to a device and its acknowledgement: the steering half of the contract.

An operator publishes a command as JSON on ``modax/devices/{device_id}/command`` (QoS 1, never
retained); the device answers each one with a :class:`CommandAck` on
``modax/devices/{device_id}/command/ack`` (QoS 1, not retained). ``type`` names the command.
:class:`SetSampleRate` and :class:`SetThresholds` are what a real device honours (the firmware's
core parses them); :class:`InjectFault`, :class:`SetLoad`, :class:`SetMotor` and :class:`Reboot`
only the digital twin (a real device rejects them as ``unsupported_command``). Validation rules
and their ranges are :func:`decode_command`'s; ``docs/decisions/0021-command-contract.md`` has
the reasons.

Examples
--------
>>> cmd = decode_command(
...     "modax/devices/m1/command",
...     b'{"type": "set_sample_rate", "device_id": "m1", "command_id": "c1", "rate_hz": 5}',
... )
>>> cmd.rate_hz, command_type(cmd)
(5.0, 'set_sample_rate')
"""

from __future__ import annotations

import math
import re
from typing import Any, cast

import msgspec

from modax.schema._decode import (
    CURRENT_LIMIT_A,
    DEVICE_ID_PATTERN,
    TEMPERATURE_RANGE_C,
    _classify_validation,
    check_nesting,
    check_size,
)
from modax.schema._reasons import MessageError, Reason
from modax.schema._topics import Kind, parse_topic

__all__ = [
    "COMMAND_ID_PATTERN",
    "DEVICE_COMMANDS",
    "FAULT_CHANNELS",
    "FAULT_KINDS",
    "LOAD_RANGE",
    "SAMPLE_RATE_RANGE_HZ",
    "Command",
    "CommandAck",
    "InjectFault",
    "Reboot",
    "SetLoad",
    "SetMotor",
    "SetSampleRate",
    "SetThresholds",
    "command_type",
    "decode_command",
]

#: What a command id may look like (the sender picks it; the ack echoes it).
COMMAND_ID_PATTERN = re.compile(r"^[A-Za-z0-9_.:-]{1,64}\Z")
#: Telemetry rates a device may be set to, in Hz (inclusive): from once every 10 s to the
#: firmware's 10 Hz.
SAMPLE_RATE_RANGE_HZ = (0.1, 10.0)
#: Load a twin's motor may be set to, as a fraction of its rated load (inclusive).
LOAD_RANGE = (0.0, 1.5)
#: Faults the twin takes by command: every kind of ``simulator.FaultKind`` but ``failure``,
#: which wear produces (``tests/test_twin.py`` holds the two lists together).
FAULT_KINDS = (
    "bearing_wear",
    "imbalance",
    "misalignment",
    "overload",
    "overheating",
    "phase_imbalance",
    "stuck",
    "drift",
    "spikes",
    "dropout",
    "estop",
    "door_open",
    "loss",
    "duplicates",
    "reorder",
    "burst",
    "clock_skew",
    "reboot",
)
#: Sensor channels a sensor fault may act on.
FAULT_CHANNELS = ("current_1", "current_2", "vibration", "temp_1", "temp_2")


class _Command(msgspec.Struct, tag_field="type", kw_only=True, omit_defaults=True):
    """Fields every command carries: the device it is for and the sender's id for the ack."""

    device_id: str
    command_id: str


class SetSampleRate(_Command, tag="set_sample_rate"):
    """Publish telemetry at ``rate_hz`` (Hz, within :data:`SAMPLE_RATE_RANGE_HZ`).

    Examples
    --------
    >>> msgspec.json.encode(SetSampleRate(device_id="m1", command_id="c1", rate_hz=2.0))
    b'{"type":"set_sample_rate","rate_hz":2.0,"device_id":"m1","command_id":"c1"}'
    """

    rate_hz: float


class SetThresholds(_Command, tag="set_thresholds"):
    """Change the device's safety thresholds; a field left out keeps its value.

    Attributes
    ----------
    overload_current_a : float or None
        Overload while any ``abs(I) >`` this, in A (0 < x ≤ ``CURRENT_LIMIT_A``).
    max_temperature_c : float or None
        Over-temperature while any ``T >=`` this, in °C (within ``TEMPERATURE_RANGE_C``).

    Examples
    --------
    >>> SetThresholds(device_id="m1", command_id="c2", overload_current_a=8.0).max_temperature_c
    """

    overload_current_a: float | None = None
    max_temperature_c: float | None = None


class InjectFault(_Command, tag="inject_fault"):
    """Twin only: start a fault now (``kind`` of :data:`FAULT_KINDS`).

    Attributes
    ----------
    kind : str
        The fault, as ground truth names it.
    severity : float
        0–1.
    duration_s : float or None
        How long it lasts, in s (> 0); ``None``: until the twin stops.
    channel : str or None
        For sensor faults, one of :data:`FAULT_CHANNELS` (default: the kind's own).

    Examples
    --------
    >>> InjectFault(device_id="m1", command_id="c3", kind="overload", severity=0.8).duration_s
    """

    kind: str
    severity: float = 1.0
    duration_s: float | None = None
    channel: str | None = None


class SetLoad(_Command, tag="set_load"):
    """Twin only: drive the motor at ``load_fraction`` of its rated load (:data:`LOAD_RANGE`).

    Examples
    --------
    >>> SetLoad(device_id="m1", command_id="c4", load_fraction=0.9).load_fraction
    0.9
    """

    load_fraction: float


class SetMotor(_Command, tag="set_motor"):
    """Twin only: stop (``running=False``) or start the motor.

    Examples
    --------
    >>> SetMotor(device_id="m1", command_id="c5", running=False).running
    False
    """

    running: bool


class Reboot(_Command, tag="reboot"):
    """Twin only: reboot the device (silent for a few seconds, then counting from boot).

    Examples
    --------
    >>> Reboot(device_id="m1", command_id="c6").device_id
    'm1'
    """


#: Any command of the contract.
Command = SetSampleRate | SetThresholds | InjectFault | SetLoad | SetMotor | Reboot
#: The commands a real device honours; the rest are the twin's.
DEVICE_COMMANDS = ("set_sample_rate", "set_thresholds")
_DECODER: msgspec.json.Decoder[Any] = msgspec.json.Decoder(Command)
_TYPES = tuple(cast(str, t.__struct_config__.tag) for t in Command.__args__)


class _Peek(msgspec.Struct):
    """The fields of a command an ack echoes, read leniently from a payload that may be bad."""

    command_id: Any = None
    type: Any = None


class CommandAck(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A device's answer to one command, on ``modax/devices/{device_id}/command/ack``.

    Attributes
    ----------
    device_id : str
        The device that answers.
    command_id : str or None
        The command's id (``None`` when the payload had no readable one).
    type : str or None
        The command's type, as sent.
    accepted : bool
        Whether the device applies it.
    reason, field, detail : str or None
        Why it was rejected: a :class:`~modax.schema.Reason`, the field it names, one line.
    timestamp : int
        When the device answered, epoch ms (UTC).
    applies_at : int or None
        For an accepted command, the (simulated) time it takes effect, epoch ms (UTC).

    Examples
    --------
    >>> ack = CommandAck.reject("m1", b'{"command_id": "c9", "type": "dance"}',
    ...                         MessageError(Reason.UNKNOWN_COMMAND, "type", "no such"), 5)
    >>> ack.accepted, ack.command_id, ack.reason
    (False, 'c9', 'unknown_command')
    """

    device_id: str
    command_id: str | None
    type: str | None
    accepted: bool
    timestamp: int
    reason: str | None = None
    field: str | None = None
    detail: str | None = None
    applies_at: int | None = None

    @classmethod
    def accept(cls, command: Command, timestamp: int, applies_at: int | None = None) -> CommandAck:
        """The ack of a command the device applies."""
        return cls(
            device_id=command.device_id,
            command_id=command.command_id,
            type=command_type(command),
            accepted=True,
            timestamp=timestamp,
            applies_at=applies_at,
        )

    @classmethod
    def reject(
        cls, device_id: str, payload: bytes, error: MessageError, timestamp: int
    ) -> CommandAck:
        """The ack of a payload the device refuses, echoing what of it can be read."""
        try:
            peek = msgspec.json.decode(payload, type=_Peek)
        except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
            peek = _Peek()
        return cls(
            device_id=device_id,
            command_id=peek.command_id if isinstance(peek.command_id, str) else None,
            type=peek.type if isinstance(peek.type, str) else None,
            accepted=False,
            timestamp=timestamp,
            reason=error.reason.value,
            field=error.field,
            detail=error.detail,
        )


def command_type(command: Command) -> str:
    """The ``type`` a command carries on the wire."""
    return cast(str, type(command).__struct_config__.tag)


def _between(name: str, value: float, low: float, high: float, unit: str = "") -> None:
    if not math.isfinite(value):
        raise MessageError(Reason.NON_FINITE, name, f"{value} is not a finite number")
    if not low <= value <= high:
        raise MessageError(
            Reason.OUT_OF_RANGE, name, f"{value:g}{unit} is outside {low:g}…{high:g}{unit}"
        )


def _check_values(cmd: Command) -> None:
    if isinstance(cmd, SetSampleRate):
        _between("rate_hz", cmd.rate_hz, *SAMPLE_RATE_RANGE_HZ, " Hz")
    elif isinstance(cmd, SetThresholds):
        if cmd.overload_current_a is None and cmd.max_temperature_c is None:
            raise MessageError(
                Reason.MISSING_FIELD,
                "overload_current_a",
                "give overload_current_a, max_temperature_c or both",
            )
        if cmd.overload_current_a is not None:
            _between("overload_current_a", cmd.overload_current_a, 0.0, CURRENT_LIMIT_A, " A")
            if cmd.overload_current_a == 0.0:
                raise MessageError(Reason.OUT_OF_RANGE, "overload_current_a", "must be above 0 A")
        if cmd.max_temperature_c is not None:
            _between("max_temperature_c", cmd.max_temperature_c, *TEMPERATURE_RANGE_C, " °C")
    elif isinstance(cmd, InjectFault):
        if cmd.kind not in FAULT_KINDS:
            raise MessageError(
                Reason.UNKNOWN_VALUE,
                "kind",
                f"{cmd.kind[:40]!r} is not a fault kind the twin takes",
            )
        _between("severity", cmd.severity, 0.0, 1.0)
        if cmd.duration_s is not None:
            _between("duration_s", cmd.duration_s, 0.0, math.inf, " s")
            if cmd.duration_s == 0.0:
                raise MessageError(Reason.OUT_OF_RANGE, "duration_s", "must be above 0 s")
        if cmd.channel is not None and cmd.channel not in FAULT_CHANNELS:
            raise MessageError(
                Reason.UNKNOWN_VALUE,
                "channel",
                f"{cmd.channel[:40]!r} is not one of {', '.join(FAULT_CHANNELS)}",
            )
    elif isinstance(cmd, SetLoad):
        _between("load_fraction", cmd.load_fraction, *LOAD_RANGE)


def _typed(payload: bytes) -> Command:
    try:
        return cast(Command, _DECODER.decode(payload))
    except msgspec.ValidationError as exc:
        text = str(exc)
        if text.startswith("Invalid value") and text.endswith("- at `$.type`"):
            raise MessageError(
                Reason.UNKNOWN_COMMAND, "type", f"not one of {', '.join(_TYPES)}"
            ) from None
        raise MessageError(*_classify_validation(text)) from None
    except msgspec.DecodeError as exc:
        raise MessageError(Reason.NOT_JSON, None, f"not valid JSON ({exc})") from None


def decode_command(topic: str, payload: bytes) -> Command:
    """Decode and validate one command, as a device does before it acts on it.

    Parameters
    ----------
    topic : str
        ``modax/devices/{device_id}/command``.
    payload : bytes
        The JSON command.

    Returns
    -------
    Command

    Raises
    ------
    MessageError
        With the reason and the field: ``unknown_topic``, the decoder's reasons (``not_json``,
        ``missing_field``, ``wrong_type`` …), ``unknown_command`` (``type``),
        ``invalid_device_id``, ``device_id_mismatch``, ``out_of_range``/``non_finite`` (a value
        outside its range), ``unknown_value`` (a fault kind or channel that does not exist).

    Examples
    --------
    >>> decode_command("modax/devices/m1/command",
    ...                b'{"type": "reboot", "device_id": "m2", "command_id": "c1"}')
    Traceback (most recent call last):
    ...
    modax.schema._reasons.MessageError: device_id_mismatch: device_id: payload says 'm2' but the \
topic names 'm1'
    """
    parsed = parse_topic(topic)
    if parsed is None or parsed[0] is not Kind.COMMAND:
        raise MessageError(Reason.UNKNOWN_TOPIC, None, f"{topic[:120]!r} is not a command topic")
    check_size(payload)
    check_nesting(payload)
    cmd = _typed(payload)
    if not DEVICE_ID_PATTERN.match(cmd.device_id):
        raise MessageError(
            Reason.INVALID_DEVICE_ID,
            "device_id",
            f"{cmd.device_id[:80]!r} does not match {DEVICE_ID_PATTERN.pattern}",
        )
    if cmd.device_id != parsed[1]:
        raise MessageError(
            Reason.DEVICE_ID_MISMATCH,
            "device_id",
            f"payload says {cmd.device_id!r} but the topic names {parsed[1]!r}",
        )
    if not COMMAND_ID_PATTERN.match(cmd.command_id):
        raise MessageError(
            Reason.OUT_OF_RANGE,
            "command_id",
            f"{cmd.command_id[:80]!r} does not match {COMMAND_ID_PATTERN.pattern}",
        )
    _check_values(cmd)
    return cmd
