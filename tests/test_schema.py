"""The message contract: what is accepted, and every reason a message is rejected."""

from __future__ import annotations

import hashlib
import json

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modax.schema import (
    MAX_PAYLOAD_BYTES,
    MAX_TOPIC_LENGTH,
    QUARANTINE_PAYLOAD_BYTES,
    TELEMETRY_CHANNELS,
    Advisory,
    DeviceStatus,
    Kind,
    MessageError,
    Reason,
    Recommendation,
    SafetyEvent,
    SafetyStatus,
    Telemetry,
    Vibration,
    decode,
    decode_batch,
    parse_topic,
    topic_for,
)

TOPIC = "modax/devices/m1/telemetry"
#: A receive time (epoch ms, UTC); the readings below are dated at it.
NOW = 1_763_900_000_000


def telemetry(**changes: object) -> dict:
    msg = {
        "timestamp": NOW,
        "device_id": "m1",
        "motor_currents": [4.2, 4.1],
        "vibration": {"x": 0.12, "y": -0.05, "z": 9.81, "magnitude": 9.811},
        "temperatures": [41.5, 39.0],
        "seq": 17,
    }
    msg.update(changes)
    return msg


def rejected(payload: bytes | dict, topic: str = TOPIC) -> MessageError:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    with pytest.raises(MessageError) as info:
        decode(topic, raw)
    return info.value


def test_firmware_telemetry_is_accepted_with_unknown_fields_ignored():
    msg = decode(TOPIC, json.dumps(telemetry(firmware_extra={"a": 1})).encode())
    assert msg == Telemetry(
        1_763_900_000_000, "m1", [4.2, 4.1], Vibration(0.12, -0.05, 9.81, 9.811), [41.5, 39.0], 17
    )


def test_seq_is_optional_and_legacy_topic_has_no_device_check():
    payload = telemetry()
    del payload["seq"]
    msg = decode("modax/sensor/data", json.dumps(payload).encode())
    assert msg.seq is None


def test_safety_and_status_messages():
    safety = decode(
        "modax/devices/m1/safety",
        b'{"timestamp": 5, "device_id": "m1", "emergency_stop": true, "door_closed": false,'
        b' "overload_detected": false, "temperature_ok": true}',
    )
    assert isinstance(safety, SafetyStatus)
    assert safety.emergency_stop
    assert not safety.door_closed
    status = decode("modax/devices/m1/status", b'{"device_id": "m1", "online": false}')
    assert status == DeviceStatus("m1", online=False)


def test_encoding_a_struct_gives_what_decode_accepts():
    msg = Telemetry(1, "m-2", [0.0], Vibration(0, 0, 9.8, 9.8), [20.0])
    assert b'"seq"' not in msg_bytes(msg)
    assert decode("modax/devices/m-2/telemetry", msg_bytes(msg)) == msg


def msg_bytes(msg: msgspec.Struct) -> bytes:
    return msgspec.json.encode(msg)


@pytest.mark.parametrize(
    ("payload", "reason", "field"),
    [
        (b"", Reason.EMPTY_PAYLOAD, None),
        (b"{" + b" " * MAX_PAYLOAD_BYTES + b"}", Reason.OVERSIZED, None),
        (b"{not json", Reason.NOT_JSON, None),
        (b'{"timestamp": NaN}', Reason.NOT_JSON, None),
        (b'{"timestamp": Infinity}', Reason.NOT_JSON, None),
        (b"[1, 2, 3]", Reason.NOT_OBJECT, None),
        (b'"text"', Reason.NOT_OBJECT, None),
        (
            {k: v for k, v in telemetry().items() if k != "device_id"},
            Reason.MISSING_FIELD,
            "device_id",
        ),
        (
            telemetry(vibration={"x": 1, "y": 1, "z": 1}),
            Reason.MISSING_FIELD,
            "vibration.magnitude",
        ),
        (telemetry(timestamp="now"), Reason.WRONG_TYPE, "timestamp"),
        (telemetry(timestamp=1.5e12), Reason.WRONG_TYPE, "timestamp"),
        (telemetry(motor_currents=[1.0, "x"]), Reason.WRONG_TYPE, "motor_currents[1]"),
        (telemetry(vibration=[1, 2, 3]), Reason.WRONG_TYPE, "vibration"),
        (telemetry(seq="1"), Reason.WRONG_TYPE, "seq"),
        (telemetry(motor_currents=[]), Reason.BAD_LENGTH, "motor_currents"),
        (telemetry(temperatures=[1, 2, 3, 4, 5]), Reason.BAD_LENGTH, "temperatures"),
        (telemetry(timestamp=-1), Reason.NEGATIVE_TIMESTAMP, "timestamp"),
        (telemetry(seq=-3), Reason.NEGATIVE_SEQ, "seq"),
        (telemetry(device_id="m 1"), Reason.INVALID_DEVICE_ID, "device_id"),
        (telemetry(device_id="x" * 65), Reason.INVALID_DEVICE_ID, "device_id"),
        (telemetry(device_id=""), Reason.INVALID_DEVICE_ID, "device_id"),
        (telemetry(device_id="m2"), Reason.DEVICE_ID_MISMATCH, "device_id"),
        (telemetry(motor_currents=[4.0, 100.5]), Reason.OUT_OF_RANGE, "motor_currents[1]"),
        (telemetry(motor_currents=[-101.0]), Reason.OUT_OF_RANGE, "motor_currents[0]"),
        (telemetry(temperatures=[-56.0]), Reason.OUT_OF_RANGE, "temperatures[0]"),
        (telemetry(temperatures=[20.0, 200.5]), Reason.OUT_OF_RANGE, "temperatures[1]"),
        (
            telemetry(vibration={"x": 250.0, "y": 0, "z": 9.8, "magnitude": 250.2}),
            Reason.OUT_OF_RANGE,
            "vibration.x",
        ),
        (
            telemetry(vibration={"x": 0, "y": 0, "z": -201.0, "magnitude": 201.0}),
            Reason.OUT_OF_RANGE,
            "vibration.z",
        ),
    ],
)
def test_every_rejection_names_its_reason_and_field(payload, reason, field):
    err = rejected(payload)
    assert err.reason is reason
    assert err.field == field
    assert err.detail


def test_number_too_large_for_a_float_is_non_finite():
    raw = json.dumps(telemetry()).replace("4.2", "1e999").encode()
    err = rejected(raw)
    assert (err.reason, err.field) == (Reason.NON_FINITE, "motor_currents[0]")


def test_unknown_topic_is_rejected():
    err = rejected(telemetry(), topic="factory/other")
    assert err.reason is Reason.UNKNOWN_TOPIC
    assert rejected(telemetry(), topic="modax/devices/m1/events").reason is Reason.UNKNOWN_TOPIC


def test_topics_round_trip():
    for kind in Kind:
        assert parse_topic(topic_for("dev_7", kind)) == (kind, "dev_7")
    assert parse_topic("modax/sensor/safety") == (Kind.SAFETY, None)
    assert parse_topic("modax/devices/m1/unknown") is None


def test_decode_batch_splits_kinds_into_flat_columns():
    payloads = [
        json.dumps(telemetry(seq=1)).encode(),
        json.dumps(telemetry(seq=2, motor_currents=[1.0])).encode(),
        b'{"device_id": "m1", "online": true, "firmware_version": "1.2.0"}',
        b"garbage",
    ]
    topics = [TOPIC, TOPIC, "modax/devices/m1/status", TOPIC]
    batch = decode_batch(topics, payloads, [NOW + 10, NOW + 11, NOW + 12, NOW + 13])
    assert batch.accepted == 3
    t = batch.telemetry
    assert t["seq"].to_pylist() == [1, 2]
    assert t["current_1"].to_pylist() == [4.2, 1.0]
    assert t["current_2"].to_pylist() == [4.1, None]
    assert t["temp_2"].to_pylist() == [39.0, 39.0]
    assert set(TELEMETRY_CHANNELS) <= set(t.column_names)
    assert batch.status["firmware_version"].to_pylist() == ["1.2.0"]
    row = batch.rejected.select(["topic", "payload", "reason", "field", "count"]).to_pylist()
    assert row == [
        {"topic": TOPIC, "payload": b"garbage", "reason": "not_json", "field": None, "count": 1}
    ]


valid_payloads = st.builds(
    lambda seq, cur, temp: json.dumps(telemetry(seq=seq, motor_currents=cur, temperatures=temp)),
    st.integers(0, 2**40),
    st.lists(st.floats(-100, 100), min_size=1, max_size=4),
    st.lists(st.floats(-55, 200), min_size=1, max_size=4),
).map(str.encode)


def mutate(data: st.DataObject, payload: bytes) -> bytes:
    raw = bytearray(payload)
    for _ in range(data.draw(st.integers(1, 4))):
        op = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        pos = data.draw(st.integers(0, max(len(raw) - 1, 0)))
        if op == "flip" and raw:
            raw[pos] = data.draw(st.integers(0, 255))
        elif op == "cut":
            del raw[pos:]
        else:
            raw[pos:pos] = data.draw(st.binary(max_size=8))
    return bytes(raw)


@settings(max_examples=300, deadline=None)
@given(
    data=st.data(), payload=valid_payloads, kind=st.sampled_from(["arbitrary", "mutated", "valid"])
)
def test_decoder_never_raises_and_every_input_is_accepted_or_quarantined(data, payload, kind):
    if kind == "arbitrary":
        payload = data.draw(st.binary(max_size=300))
    elif kind == "mutated":
        payload = mutate(data, payload)
    batch = decode_batch([TOPIC], [payload], [NOW])
    assert batch.accepted + batch.rejected.num_rows == 1
    if batch.rejected.num_rows:
        reason = batch.rejected["reason"][0].as_py()
        assert reason in {r.value for r in Reason}
        assert batch.rejected["payload"][0].as_py() == payload
    else:
        assert decode(TOPIC, payload, received_at_ms=NOW).device_id == "m1"
    if kind == "valid":
        assert batch.telemetry.num_rows == 1


def test_public_surface_is_pinned():
    import modax.schema

    assert sorted(modax.schema.__all__) == sorted(
        [
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
    )


DERIVED = [
    ("events", SafetyEvent("m1", 1_763_900_000_000, "overload", "begin", 12.5, 10.0)),
    ("events", SafetyEvent("m1", 5, "stale", "end")),
    (
        "advisory",
        Advisory(
            "m1",
            1_763_900_000_000,
            state="raised",
            model="pca",
            score=3.2,
            threshold=1.0,
            recommendations=[
                Recommendation("reduce_load", "Reduce load", "warning", {"limit_a": 6.0}),
                Recommendation("monitor_temperature", "Watch it"),
            ],
            note="advice only",
        ),
    ),
    ("advisory", Advisory("m1", 0)),
]


@pytest.mark.parametrize(("kind", "message"), DERIVED)
def test_derived_messages_round_trip_through_the_live_decoder(kind, message):
    from modax.viz import decode_live

    payload = msgspec.json.encode(message)
    assert decode_live(topic_for("m1", kind), payload) == message
    assert msgspec.json.decode(payload, type=type(message)) == message


def test_derived_messages_keep_their_wire_field_names():
    event = json.loads(msgspec.json.encode(DERIVED[0][1]))
    assert list(event) == ["device_id", "ts", "kind", "state", "value", "threshold"]
    alert = json.loads(msgspec.json.encode(DERIVED[2][1]))
    assert {"kind", "advisory", "safety_effect", "note", "device_id", "state", "ts"} <= set(alert)
    assert {"model", "score", "threshold", "recommendations"} <= set(alert)
    assert (alert["kind"], alert["advisory"], alert["safety_effect"]) == ("advisory", True, "none")
    assert list(alert["recommendations"][0]) == ["code", "message", "severity", "evidence"]


def test_malformed_derived_messages_are_quarantined_naming_the_field():
    from modax.viz import decode_live

    with pytest.raises(MessageError) as info:
        decode_live("modax/devices/m1/events", b'{"device_id":"m1","ts":1,"kind":"x","state":"on"}')
    assert info.value.reason is Reason.WRONG_TYPE and "$.state" in str(info.value)
    with pytest.raises(MessageError) as info:
        decode_live("modax/devices/m1/advisory", b'{"device_id":"m1","ts":-1}')
    assert (info.value.reason, info.value.field) == (Reason.NEGATIVE_TIMESTAMP, "ts")


# --- issue 17: poison and oversized input -----------------------------------------------------

INT64_OVER = 2**63
SAFETY = {
    "timestamp": NOW,
    "device_id": "m1",
    "emergency_stop": False,
    "door_closed": True,
    "overload_detected": False,
    "temperature_ok": True,
}
NESTED = b'{"device_id":"m1","x":' + b"[" * 1_000 + b"]" * 1_000 + b"}"
POISON = [
    (TOPIC, telemetry(seq=INT64_OVER), Reason.OUT_OF_RANGE, "seq"),
    (TOPIC, telemetry(timestamp=10**17), Reason.TIMESTAMP_IN_FUTURE, "timestamp"),
    (TOPIC, telemetry(timestamp=INT64_OVER), Reason.OUT_OF_RANGE, "timestamp"),
    (TOPIC, NESTED, Reason.TOO_DEEP, None),
    ("modax/devices/m1/status", NESTED, Reason.TOO_DEEP, None),
    (
        "modax/devices/m1/status",
        {"device_id": "m1", "online": True, "uptime_ms": INT64_OVER},
        Reason.OUT_OF_RANGE,
        "uptime_ms",
    ),
    (
        "modax/devices/m1/status",
        {"device_id": "m1", "online": True, "timestamp": 10**17},
        Reason.TIMESTAMP_IN_FUTURE,
        "timestamp",
    ),
    ("modax/devices/m1/safety", {**SAFETY, "seq": INT64_OVER}, Reason.OUT_OF_RANGE, "seq"),
    (
        "modax/devices/m1/safety",
        {**SAFETY, "timestamp": 10**17},
        Reason.TIMESTAMP_IN_FUTURE,
        "timestamp",
    ),
    (TOPIC, telemetry(timestamp=7_258_118_400_000), Reason.TIMESTAMP_IN_FUTURE, "timestamp"),
    (TOPIC, telemetry(timestamp=253_402_214_400_000), Reason.TIMESTAMP_IN_FUTURE, "timestamp"),
    ("modax/sensor/data", telemetry(device_id="m1\n"), Reason.INVALID_DEVICE_ID, "device_id"),
]


@pytest.mark.parametrize(("topic", "payload", "reason", "field"), POISON)
def test_poison_messages_are_rejected_naming_the_field(topic, payload, reason, field):
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    with pytest.raises(MessageError) as info:
        decode(topic, raw, received_at_ms=NOW)
    assert (info.value.reason, info.value.field) == (reason, field)
    batch = decode_batch([topic, TOPIC], [raw, json.dumps(telemetry()).encode()], [NOW, NOW])
    assert batch.telemetry.num_rows == 1
    assert batch.rejected.select(["reason", "field"]).to_pylist() == [
        {"reason": reason.value, "field": field}
    ]


def test_nesting_is_checked_before_decoding_even_at_the_size_limit():
    deep = b'{"device_id":"m1","x":' + b"[" * 30_000 + b"]" * 30_000 + b"}"
    assert decode_batch([TOPIC], [deep], [NOW]).rejected["reason"].to_pylist() == ["too_deep"]
    # brackets inside strings do not count, and a shallow extra field is fine
    text = json.dumps(telemetry(note="[[[[[[[[[[[[", extra=[[1], [2], [3], [4], [5], [6]]))
    assert decode(TOPIC, text.encode(), received_at_ms=NOW).device_id == "m1"


def test_a_timestamp_within_the_allowed_skew_is_accepted_and_the_skew_is_a_parameter():
    ahead = telemetry(timestamp=NOW + 3_600_000)
    raw = json.dumps(ahead).encode()
    assert decode_batch([TOPIC], [raw], [NOW]).telemetry.num_rows == 1
    strict = decode_batch([TOPIC], [raw], [NOW], max_clock_skew_ms=60_000)
    assert strict.rejected["reason"].to_pylist() == ["timestamp_in_future"]
    # since-boot timestamps (below 10^12 ms) are not epoch times: no future check
    boot = json.dumps(telemetry(timestamp=999_999_999_999)).encode()
    assert decode_batch([TOPIC], [boot], [NOW]).telemetry.num_rows == 1


def test_oversized_payloads_are_quarantined_as_a_bounded_prefix_with_size_and_hash():
    big = b'{"x": "' + b"a" * 10_000_000 + b'"}'
    row = decode_batch([TOPIC], [big], [NOW]).rejected.to_pylist()[0]
    assert row["reason"] == "oversized"
    assert row["payload"] == big[:QUARANTINE_PAYLOAD_BYTES]
    assert row["payload_bytes"] == len(big)
    assert row["payload_sha256"] == hashlib.sha256(big).hexdigest()
    assert (row["count"], row["first_seen"], row["last_seen"]) == (
        1,
        row["received_at"],
        row["received_at"],
    )


def test_topics_longer_than_the_contract_are_rejected_without_caching_them():
    from modax.schema import _decode

    long_topics = [f"modax/devices/{'x' * 60_000}{i}/telemetry" for i in range(50)]
    before = len(_decode._topic_cache)
    batch = decode_batch(long_topics, [b"{}"] * 50, [NOW] * 50)
    assert len(_decode._topic_cache) == before
    assert set(batch.rejected["reason"].to_pylist()) == {"unknown_topic"}
    assert max(len(t) for t in batch.rejected["topic"].to_pylist()) <= MAX_TOPIC_LENGTH
    assert parse_topic(long_topics[0]) is None
    assert all(len(d) < 200 for d in batch.rejected["detail"].to_pylist())
