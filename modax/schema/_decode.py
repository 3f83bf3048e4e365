"""Decode raw MQTT payloads into typed messages or columns, with a reason for every rejection.

Two entry points share one set of rules:

- :func:`decode` — one message, returns a struct or raises :class:`MessageError`;
- :func:`decode_batch` — many messages straight into Arrow columns (the ingest hot path),
  with every rejected message kept whole for quarantine.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import msgspec
import numpy as np
import pyarrow as pa

from modax.schema._messages import DeviceStatus, SafetyStatus, Telemetry
from modax.schema._quarantine import quarantine_rows
from modax.schema._reasons import MessageError, Reason
from modax.schema._tables import (
    MAX_CHANNELS,
    QUARANTINE_RAW_SCHEMA,
    SAFETY_RAW_SCHEMA,
    STATUS_RAW_SCHEMA,
    TELEMETRY_RAW_SCHEMA,
    UTC_MS,
)
from modax.schema._topics import MAX_TOPIC_LENGTH, Kind, parse_topic

__all__ = [
    "CURRENT_LIMIT_A",
    "DEFAULT_MAX_CLOCK_SKEW_MS",
    "DEVICE_ID_PATTERN",
    "EPOCH_MS_THRESHOLD",
    "MAX_NESTING",
    "MAX_PAYLOAD_BYTES",
    "TEMPERATURE_RANGE_C",
    "VIBRATION_LIMIT_MS2",
    "DecodedBatch",
    "check_nesting",
    "check_size",
    "decode",
    "decode_batch",
]

#: Largest payload accepted, in bytes.
MAX_PAYLOAD_BYTES = 64 * 1024
#: Physical range of the ACS712 current sensors: |I| ≤ 100 A.
CURRENT_LIMIT_A = 100.0
#: Physical range of the temperature sensors, in °C (inclusive).
TEMPERATURE_RANGE_C = (-55.0, 200.0)
#: Physical range of each MPU6050 vibration component: |a| ≤ 200 m/s².
VIBRATION_LIMIT_MS2 = 200.0
#: What a device id may look like (``\\Z``: a trailing newline does not match, unlike ``$``).
DEVICE_ID_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,64}\Z")
#: Deepest nesting of JSON arrays and objects accepted (the contract needs 2).
MAX_NESTING = 8
#: Timestamps at or above this are epoch ms; below, ms since the device booted.
EPOCH_MS_THRESHOLD = 10**12
#: How far an epoch timestamp may be ahead of its receive time by default, in ms (1 day).
DEFAULT_MAX_CLOCK_SKEW_MS = 86_400_000
_INT64_MAX = 2**63 - 1
#: Integer fields stored as int64, by message type.
_INT_FIELDS: dict[type, tuple[str, ...]] = {
    Telemetry: ("timestamp", "seq"),
    SafetyStatus: ("timestamp", "seq"),
    DeviceStatus: ("timestamp", "uptime_ms"),
}
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
_BRACKETS = np.zeros(256, dtype=np.int8)
_BRACKETS[[ord("["), ord("{")]] = 1
_BRACKETS[[ord("]"), ord("}")]] = -1

_TYPES: dict[Kind, type] = {
    Kind.TELEMETRY: Telemetry,
    Kind.SAFETY: SafetyStatus,
    Kind.STATUS: DeviceStatus,
}
#: A message of the contract that devices publish.
Message = Telemetry | SafetyStatus | DeviceStatus
_DECODERS: dict[Kind, msgspec.json.Decoder[Any]] = {
    kind: msgspec.json.Decoder(t) for kind, t in _TYPES.items()
}
_MISSING = re.compile(r"Object missing required field `([^`]*)`(?: - at `\$\.?(.*)`)?")
_AT = re.compile(r" - at `\$\.?(.*)`$")


@dataclass(frozen=True)
class DecodedBatch:
    """The result of :func:`decode_batch`: valid rows per kind plus the rejected messages.

    Attributes
    ----------
    telemetry, safety, status : pyarrow.Table
        Valid messages as flat columns (see ``modax.schema`` table schemas); ``timestamp`` is the
        device's raw value, ``received_at`` the receive time (UTC, ms).
    rejected : pyarrow.Table
        One row per rejected message (:data:`~modax.schema.QUARANTINE_RAW_SCHEMA`): ``topic``,
        raw ``payload`` (a bounded prefix), ``reason``, ``field``, ``detail``, ``received_at``,
        the whole payload's size and hash, ``count`` 1.
    """

    telemetry: pa.Table
    safety: pa.Table
    status: pa.Table
    rejected: pa.Table

    @property
    def accepted(self) -> int:
        """Number of messages that passed validation."""
        return int(self.telemetry.num_rows + self.safety.num_rows + self.status.num_rows)


def _classify_validation(message: str) -> tuple[Reason, str | None, str]:
    missing = _MISSING.match(message)
    if missing:
        name, parent = missing.group(1), missing.group(2)
        field = f"{parent}.{name}" if parent else name
        return Reason.MISSING_FIELD, field, f"required field `{field}` is missing"
    at = _AT.search(message)
    if at is None:
        if message.startswith("Expected `object`"):
            return Reason.NOT_OBJECT, None, "payload must be a JSON object"
        return Reason.WRONG_TYPE, None, message
    field = at.group(1) or None
    detail = message[: at.start()]
    if detail == "Number out of range":
        return Reason.NON_FINITE, field, "number is too large to be a finite float64"
    return Reason.WRONG_TYPE, field, detail


def check_size(payload: bytes) -> None:
    """Raise :class:`MessageError` for an empty payload or one above :data:`MAX_PAYLOAD_BYTES`.

    Examples
    --------
    >>> check_size(b"{}")
    >>> check_size(b"")
    Traceback (most recent call last):
    ...
    modax.schema._reasons.MessageError: empty_payload: payload is empty
    """
    if not payload:
        raise MessageError(Reason.EMPTY_PAYLOAD, None, "payload is empty")
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise MessageError(
            Reason.OVERSIZED, None, f"payload is {len(payload)} bytes, limit {MAX_PAYLOAD_BYTES}"
        )


def _nesting(payload: bytes) -> int:
    """How deep arrays and objects nest in ``payload`` (brackets inside strings do not count).

    Examples
    --------
    >>> _nesting(b'{"a": [[1], "]]["], "b": {}}')
    3
    """
    brackets = _BRACKETS[np.frombuffer(_STRING.sub(b"", payload), dtype=np.uint8)]
    return int(np.cumsum(brackets, dtype=np.int64).max(initial=0))


def check_nesting(payload: bytes) -> None:
    """Raise :class:`MessageError` when arrays and objects nest deeper than :data:`MAX_NESTING`.

    Cheap for what the contract allows: the nesting is measured only when the payload holds
    more than :data:`MAX_NESTING` opening brackets, and never by a recursive decoder.

    Examples
    --------
    >>> check_nesting(b'{"x": [1, 2]}')
    >>> check_nesting(b"[" * 9 + b"]" * 9)
    Traceback (most recent call last):
    ...
    modax.schema._reasons.MessageError: too_deep: payload nests 9 levels deep, limit 8
    """
    if payload.count(b"[") + payload.count(b"{") <= MAX_NESTING:
        return
    depth = _nesting(payload)
    if depth > MAX_NESTING:
        raise MessageError(
            Reason.TOO_DEEP, None, f"payload nests {depth} levels deep, limit {MAX_NESTING}"
        )


def _check_integers(msg: Message) -> None:
    for name in _INT_FIELDS[type(msg)]:
        value = getattr(msg, name)
        if value is not None and value > _INT64_MAX:
            raise MessageError(
                Reason.OUT_OF_RANGE, name, f"{value} is above the int64 maximum {_INT64_MAX}"
            )


def _check_time(timestamp: int | None, received_at_ms: int | None, max_skew_ms: int) -> None:
    if (
        timestamp is None
        or received_at_ms is None
        or timestamp < EPOCH_MS_THRESHOLD
        or timestamp <= received_at_ms + max_skew_ms
    ):
        return
    raise MessageError(
        Reason.TIMESTAMP_IN_FUTURE,
        "timestamp",
        f"{timestamp} ms is {(timestamp - received_at_ms) / 1000:.0f} s after the receive time "
        f"{received_at_ms} ms, more than the allowed clock skew of {max_skew_ms / 1000:g} s "
        "(MODAX_MAX_CLOCK_SKEW_S)",
    )


def _typed(kind: Kind, payload: bytes) -> Message:
    """``payload`` decoded as ``kind``'s struct, or :class:`MessageError` saying why not."""
    try:
        return cast(Message, _DECODERS[kind].decode(payload))
    except msgspec.ValidationError as exc:
        raise MessageError(*_classify_validation(str(exc))) from None
    except msgspec.DecodeError as exc:
        raise MessageError(Reason.NOT_JSON, None, f"not valid JSON ({exc})") from None


def _structural(
    kind: Kind,
    topic_device: str | None,
    payload: bytes,
    received_at_ms: int | None = None,
    max_skew_ms: int = DEFAULT_MAX_CLOCK_SKEW_MS,
) -> Message:
    """Decode one payload of a known kind and apply every per-message rule but value ranges."""
    check_size(payload)
    check_nesting(payload)
    msg = _typed(kind, payload)
    device_id = msg.device_id
    if not DEVICE_ID_PATTERN.match(device_id):
        raise MessageError(
            Reason.INVALID_DEVICE_ID,
            "device_id",
            f"{device_id[:80]!r} does not match {DEVICE_ID_PATTERN.pattern}",
        )
    _check_integers(msg)
    if topic_device is not None and topic_device != device_id:
        raise MessageError(
            Reason.DEVICE_ID_MISMATCH,
            "device_id",
            f"payload says {device_id!r} but the topic names {topic_device!r}",
        )
    timestamp = getattr(msg, "timestamp", None)
    if timestamp is not None and timestamp < 0:
        raise MessageError(Reason.NEGATIVE_TIMESTAMP, "timestamp", f"{timestamp} is below 0")
    seq = getattr(msg, "seq", None)
    if seq is not None and seq < 0:
        raise MessageError(Reason.NEGATIVE_SEQ, "seq", f"{seq} is below 0")
    _check_time(timestamp, received_at_ms, max_skew_ms)
    if kind is Kind.TELEMETRY:
        for name in ("motor_currents", "temperatures"):
            n = len(getattr(msg, name))
            if not 1 <= n <= MAX_CHANNELS:
                raise MessageError(
                    Reason.BAD_LENGTH, name, f"has {n} values, expected 1 to {MAX_CHANNELS}"
                )
    return msg


_VIB = VIBRATION_LIMIT_MS2
#: Every range rule of a telemetry reading, in the order they are checked: field, unit, low,
#: high. Currents are checks 0–3, vibration 4–7, temperatures 8–11.
_RANGES: tuple[tuple[str, str, float, float], ...] = (
    *((f"motor_currents[{i}]", "A", -CURRENT_LIMIT_A, CURRENT_LIMIT_A) for i in range(4)),
    *((f"vibration.{axis}", "m/s²", -_VIB, _VIB) for axis in ("x", "y", "z")),
    ("vibration.magnitude", "m/s²", 0.0, 2 * _VIB),
    *((f"temperatures[{i}]", "°C", *TEMPERATURE_RANGE_C) for i in range(4)),
)
_LOW = np.array([check[2] for check in _RANGES])
_HIGH = np.array([check[3] for check in _RANGES])


def _range_error(check: int, value: float) -> MessageError:
    name, unit, low, high = _RANGES[check]
    if not math.isfinite(value):
        return MessageError(Reason.NON_FINITE, name, f"{value} is not a finite number")
    return MessageError(
        Reason.OUT_OF_RANGE, name, f"{value:g} {unit} is outside the sensor range {low:g}…{high:g}"
    )


def _check_ranges(msg: Telemetry) -> None:
    vib = msg.vibration
    for check, value in (
        *enumerate(msg.motor_currents),
        *zip(range(4, 8), (vib.x, vib.y, vib.z, vib.magnitude), strict=True),
        *zip(range(8, 12), msg.temperatures, strict=False),
    ):
        if not (_LOW[check] <= value <= _HIGH[check]):  # also catches NaN
            raise _range_error(check, value)


def decode(
    topic: str,
    payload: bytes,
    received_at_ms: int | None = None,
    max_clock_skew_ms: int = DEFAULT_MAX_CLOCK_SKEW_MS,
) -> Telemetry | SafetyStatus | DeviceStatus:
    """Decode and validate one message.

    Parameters
    ----------
    topic : str
        The MQTT topic it arrived on.
    payload : bytes
        The raw payload.
    received_at_ms : int, optional
        Receive time, epoch ms (UTC). When given, an epoch ``timestamp`` more than
        ``max_clock_skew_ms`` after it is rejected (``timestamp_in_future``).
    max_clock_skew_ms : int
        How far a device clock may run ahead of the receive clock, in ms.

    Returns
    -------
    Telemetry, SafetyStatus or DeviceStatus

    Raises
    ------
    MessageError
        With the :class:`Reason` and the field it names.

    Examples
    --------
    >>> decode("modax/devices/m1/status", b'{"device_id": "m1", "online": true}')
    DeviceStatus(device_id='m1', online=True, timestamp=None, firmware_version=None, uptime_ms=None)
    >>> decode("modax/devices/m1/telemetry", b"[1, 2]")
    Traceback (most recent call last):
    ...
    modax.schema._reasons.MessageError: not_object: payload must be a JSON object
    """
    return _checked(parse_topic(topic), topic, payload, received_at_ms, max_clock_skew_ms)


def _checked(
    parsed: tuple[Kind, str | None] | None,
    topic: str,
    payload: bytes,
    received_at_ms: int | None,
    max_clock_skew_ms: int,
) -> Telemetry | SafetyStatus | DeviceStatus:
    """:func:`decode` of a topic already parsed."""
    if parsed is None or parsed[0] not in _TYPES:
        shown = repr(topic) if len(topic) <= MAX_TOPIC_LENGTH else f"of {len(topic)} characters"
        raise MessageError(Reason.UNKNOWN_TOPIC, None, f"modax does not ingest topic {shown}")
    kind, topic_device = parsed
    msg = _structural(kind, topic_device, payload, received_at_ms, max_clock_skew_ms)
    if isinstance(msg, Telemetry):
        _check_ranges(msg)
    return msg


_CACHE_LIMIT = 100_000
_topic_cache: dict[str, tuple[Kind, str | None] | None] = {}
_valid_ids: set[str] = set()


def _cached_topic(topic: str) -> tuple[Kind, str | None] | None:
    if len(topic) > MAX_TOPIC_LENGTH:
        return None  # never cached: at most _CACHE_LIMIT topics of bounded length are
    try:
        return _topic_cache[topic]
    except KeyError:
        if len(_topic_cache) > _CACHE_LIMIT:
            _topic_cache.clear()
        parsed = _topic_cache[topic] = parse_topic(topic)
        return parsed


def _fast_telemetry(
    topic_device: str | None, payload: bytes, max_timestamp: int
) -> Telemetry | None:
    """Decode a telemetry payload that breaks no per-message rule; ``None`` when in any doubt.

    ``None`` sends the message down :func:`decode`, which finds the exact reason, so this fast
    path can never accept what :func:`decode` rejects. Value ranges are checked per batch;
    ``max_timestamp`` is the largest timestamp :func:`decode` would accept for this message.

    Raises
    ------
    MessageError
        When the payload is not a telemetry struct: past the size and nesting checks,
        :func:`decode` would reject it for the same reason.
    """
    if (
        not 0 < len(payload) <= MAX_PAYLOAD_BYTES
        or payload.count(b"[") + payload.count(b"{") > MAX_NESTING
    ):
        return None
    msg = _typed(Kind.TELEMETRY, payload)
    if not isinstance(msg, Telemetry):
        return None
    device_id = msg.device_id
    if device_id not in _valid_ids:
        if not DEVICE_ID_PATTERN.match(device_id):
            return None
        if len(_valid_ids) > _CACHE_LIMIT:
            _valid_ids.clear()
        _valid_ids.add(device_id)
    ok = (
        (topic_device is None or topic_device == device_id)
        and 0 <= msg.timestamp <= max_timestamp
        and (msg.seq is None or 0 <= msg.seq <= _INT64_MAX)
        and 1 <= len(msg.motor_currents) <= MAX_CHANNELS
        and 1 <= len(msg.temperatures) <= MAX_CHANNELS
    )
    return msg if ok else None


def _padded(lists: list[list[float]]) -> tuple[np.ndarray, np.ndarray]:
    """Ragged lists of 1–4 values as an (n, 4) float64 array padded with NaN, and their lengths."""
    n = len(lists)
    out = np.full((n, MAX_CHANNELS), np.nan)
    lengths = np.fromiter(map(len, lists), dtype=np.int64, count=n)
    for width in np.unique(lengths):
        rows = np.flatnonzero(lengths == width)
        values = lists if len(rows) == n else [lists[r] for r in rows]
        out[rows, :width] = np.asarray(values, dtype=np.float64)
    return out, lengths


@dataclass
class _Telemetry:
    """Valid telemetry of one batch as numeric arrays (rows that break a range are removed)."""

    msgs: list[Telemetry]
    received: list[int]
    currents: np.ndarray
    temperatures: np.ndarray
    vibration: np.ndarray

    @classmethod
    def build(
        cls, msgs: list[Telemetry], received: list[int]
    ) -> tuple[_Telemetry, list[tuple[int, MessageError]]]:
        """The batch's arrays, and ``(row, error)`` of each row that breaks a range (first rule
        broken, in :data:`_RANGES` order, as :func:`decode` reports it).
        """
        currents, n_currents = _padded([m.motor_currents for m in msgs])
        temperatures, n_temps = _padded([m.temperatures for m in msgs])
        vib = np.array(
            [(v.x, v.y, v.z, v.magnitude) for v in (m.vibration for m in msgs)], dtype=np.float64
        ).reshape(len(msgs), 4)
        values = np.hstack([currents, vib, temperatures])
        channel = np.arange(MAX_CHANNELS)
        present = np.hstack(
            [
                channel < n_currents[:, None],
                np.ones_like(vib, dtype=bool),
                channel < n_temps[:, None],
            ]
        )
        with np.errstate(invalid="ignore"):
            broken = ~((values >= _LOW) & (values <= _HIGH)) & present
        rows = np.flatnonzero(broken.any(axis=1))
        checks = broken[rows].argmax(axis=1)
        errors = [
            (row, _range_error(check, value))
            for row, check, value in zip(
                rows.tolist(), checks.tolist(), values[rows, checks].tolist(), strict=True
            )
        ]
        return cls(msgs, received, currents, temperatures, vib), errors

    def keep(self, mask: np.ndarray) -> _Telemetry:
        rows = np.flatnonzero(mask)
        return _Telemetry(
            [self.msgs[r] for r in rows],
            [self.received[r] for r in rows],
            self.currents[rows],
            self.temperatures[rows],
            self.vibration[rows],
        )

    def table(self) -> pa.Table:
        msgs = self.msgs
        columns: dict[str, pa.Array] = {
            "device_id": pa.array([m.device_id for m in msgs], pa.string()),
            "seq": pa.array([m.seq for m in msgs], pa.int64()),
            "timestamp": pa.array([m.timestamp for m in msgs], pa.int64()),
            "received_at": pa.array(self.received, pa.int64()).cast(UTC_MS),
        }
        for i in range(MAX_CHANNELS):
            columns[f"current_{i + 1}"] = pa.array(self.currents[:, i], from_pandas=True)
        for i, name in enumerate(("vib_x", "vib_y", "vib_z", "vib_mag")):
            columns[name] = pa.array(self.vibration[:, i])
        for i in range(MAX_CHANNELS):
            columns[f"temp_{i + 1}"] = pa.array(self.temperatures[:, i], from_pandas=True)
        return pa.Table.from_pydict(columns, schema=TELEMETRY_RAW_SCHEMA)


def _rows_table(msgs: list[Message], received: list[int], schema: pa.Schema) -> pa.Table:
    columns = {
        name: [getattr(m, name) for m in msgs] for name in schema.names if name != "received_at"
    }
    columns["received_at"] = received
    table = pa.Table.from_pydict(
        {name: columns[name] for name in schema.names},
        schema=schema.set(
            schema.get_field_index("received_at"), pa.field("received_at", pa.int64())
        ),
    )
    return table.set_column(
        table.schema.get_field_index("received_at"),
        "received_at",
        table["received_at"].cast(pa.timestamp("ms", tz="UTC")),
    )


def decode_batch(
    topics: Sequence[str],
    payloads: Sequence[bytes],
    received_at_ms: Sequence[int] | np.ndarray,
    max_clock_skew_ms: int = DEFAULT_MAX_CLOCK_SKEW_MS,
) -> DecodedBatch:
    """Decode many messages into Arrow columns; never raises for bad input.

    Parameters
    ----------
    topics, payloads : sequence of str, sequence of bytes
        One entry per message, in arrival order.
    received_at_ms : sequence of int
        Receive time of each message, epoch ms (UTC).
    max_clock_skew_ms : int
        How far an epoch ``timestamp`` may be ahead of its receive time, in ms; further ahead
        is ``timestamp_in_future``.

    Returns
    -------
    DecodedBatch

    Examples
    --------
    >>> b = decode_batch(
    ...     ["modax/devices/m1/status", "modax/sensor/data"],
    ...     [b'{"device_id":"m1","online":true}', b"{"],
    ...     [1_700_000_000_000, 1_700_000_000_001],
    ... )
    >>> b.status.num_rows, b.rejected["reason"].to_pylist()
    (1, ['not_json'])
    """
    telemetry: list[Telemetry] = []
    telemetry_at: list[tuple[str, bytes, int]] = []
    by_kind: dict[type, tuple[list[Message], list[int]]] = {
        SafetyStatus: ([], []),
        DeviceStatus: ([], []),
    }
    rejected: list[tuple[str, bytes, str, str | None, str, int]] = []
    for topic, payload, at in zip(topics, payloads, received_at_ms, strict=True):
        raw = payload if isinstance(payload, bytes) else bytes(payload)
        received = int(at)
        parsed = _cached_topic(topic)
        try:
            msg: Message | None = None
            if parsed is not None and parsed[0] is Kind.TELEMETRY:
                limit = max(received + max_clock_skew_ms, EPOCH_MS_THRESHOLD - 1)
                msg = _fast_telemetry(parsed[1], raw, limit)
            if msg is None:
                msg = _checked(parsed, topic, raw, received, max_clock_skew_ms)
        except MessageError as err:
            rejected.append((topic, raw, err.reason, err.field, err.detail, received))
            continue
        if isinstance(msg, Telemetry):
            telemetry.append(msg)
            telemetry_at.append((topic, raw, received))
        else:
            msgs, times = by_kind[type(msg)]
            msgs.append(msg)
            times.append(received)

    columns, errors = _Telemetry.build(telemetry, [r for _, _, r in telemetry_at])
    good = np.ones(len(telemetry), dtype=bool)
    for row, error in errors:
        topic, raw, received = telemetry_at[row]
        rejected.append((topic, raw, error.reason, error.field, error.detail, received))
        good[row] = False
    return DecodedBatch(
        telemetry=columns.keep(good).table(),
        safety=_rows_table(*by_kind[SafetyStatus], SAFETY_RAW_SCHEMA),
        status=_rows_table(*by_kind[DeviceStatus], STATUS_RAW_SCHEMA),
        rejected=quarantine_rows(*(list(column) for column in zip(*rejected, strict=True)))
        if rejected
        else QUARANTINE_RAW_SCHEMA.empty_table(),
    )
