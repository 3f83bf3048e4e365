"""The command contract: every command round-trips, every bad one is refused with its reason."""

from __future__ import annotations

import json

import msgspec
import pytest

from modax.schema import (
    DEVICE_COMMANDS,
    FAULT_KINDS,
    CommandAck,
    InjectFault,
    Kind,
    MessageError,
    Reason,
    Reboot,
    SetLoad,
    SetMotor,
    SetSampleRate,
    SetThresholds,
    command_type,
    decode_command,
    parse_topic,
    topic_for,
)

TOPIC = topic_for("m1", Kind.COMMAND)
GOOD = [
    SetSampleRate(device_id="m1", command_id="c1", rate_hz=2.5),
    SetThresholds(device_id="m1", command_id="c2", overload_current_a=8.0),
    SetThresholds(device_id="m1", command_id="c3", max_temperature_c=70.0),
    InjectFault(device_id="m1", command_id="c4", kind="overload", severity=0.8, duration_s=300),
    InjectFault(device_id="m1", command_id="c5", kind="stuck", channel="current_2"),
    SetLoad(device_id="m1", command_id="c6", load_fraction=1.2),
    SetMotor(device_id="m1", command_id="c7", running=False),
    Reboot(device_id="m1", command_id="c8"),
]


def body(**fields: object) -> bytes:
    return json.dumps({"device_id": "m1", "command_id": "c1"} | fields).encode()


def refused(payload: bytes, topic: str = TOPIC) -> MessageError:
    with pytest.raises(MessageError) as err:
        decode_command(topic, payload)
    return err.value


@pytest.mark.parametrize("command", GOOD, ids=command_type)
def test_every_command_round_trips_through_the_wire(command):
    assert decode_command(TOPIC, msgspec.json.encode(command)) == command


def test_command_topics_round_trip_and_are_per_device():
    assert topic_for("m1", Kind.COMMAND) == "modax/devices/m1/command"
    assert parse_topic("modax/devices/m1/command/ack") == (Kind.COMMAND_ACK, "m1")
    assert set(DEVICE_COMMANDS) < {command_type(c) for c in GOOD}


@pytest.mark.parametrize(
    ("payload", "reason", "field"),
    [
        (body(type="dance"), Reason.UNKNOWN_COMMAND, "type"),
        (body(), Reason.MISSING_FIELD, "type"),
        (body(type="inject_fault", kind="gremlins"), Reason.UNKNOWN_VALUE, "kind"),
        (body(type="inject_fault", kind="failure"), Reason.UNKNOWN_VALUE, "kind"),
        (body(type="inject_fault", kind="overload", severity=1.5), Reason.OUT_OF_RANGE, "severity"),
        (
            body(type="inject_fault", kind="overload", severity=-0.1),
            Reason.OUT_OF_RANGE,
            "severity",
        ),
        (
            body(type="inject_fault", kind="overload", severity="high"),
            Reason.WRONG_TYPE,
            "severity",
        ),
        (
            body(type="inject_fault", kind="overload", duration_s=0),
            Reason.OUT_OF_RANGE,
            "duration_s",
        ),
        (
            body(type="inject_fault", kind="stuck", channel="temp_9"),
            Reason.UNKNOWN_VALUE,
            "channel",
        ),
        (body(type="set_sample_rate", rate_hz=50), Reason.OUT_OF_RANGE, "rate_hz"),
        (body(type="set_sample_rate", rate_hz=0.01), Reason.OUT_OF_RANGE, "rate_hz"),
        (body(type="set_sample_rate"), Reason.MISSING_FIELD, "rate_hz"),
        (body(type="set_thresholds"), Reason.MISSING_FIELD, "overload_current_a"),
        (
            body(type="set_thresholds", overload_current_a=0),
            Reason.OUT_OF_RANGE,
            "overload_current_a",
        ),
        (
            body(type="set_thresholds", overload_current_a=101),
            Reason.OUT_OF_RANGE,
            "overload_current_a",
        ),
        (
            body(type="set_thresholds", max_temperature_c=250),
            Reason.OUT_OF_RANGE,
            "max_temperature_c",
        ),
        (body(type="set_load", load_fraction=2.0), Reason.OUT_OF_RANGE, "load_fraction"),
        (body(type="set_motor", running="yes"), Reason.WRONG_TYPE, "running"),
        (body(type="reboot", device_id="m2"), Reason.DEVICE_ID_MISMATCH, "device_id"),
        (body(type="reboot", device_id="m 1"), Reason.INVALID_DEVICE_ID, "device_id"),
        (body(type="reboot", command_id="a b"), Reason.OUT_OF_RANGE, "command_id"),
        (b'{"type": "reboot", "device_id": "m1"', Reason.NOT_JSON, None),
        (b"[1]", Reason.NOT_OBJECT, None),
        (b"", Reason.EMPTY_PAYLOAD, None),
    ],
)
def test_a_bad_command_is_refused_naming_the_field_and_the_reason(payload, reason, field):
    err = refused(payload)
    assert (err.reason, err.field) == (reason, field)
    assert err.detail and "\n" not in err.detail


def test_out_of_range_values_say_the_range():
    err = refused(body(type="set_sample_rate", rate_hz=50))
    assert err.detail == "50 Hz is outside 0.1…10 Hz"


def test_a_command_on_another_topic_is_refused():
    payload = msgspec.json.encode(GOOD[-1])
    assert refused(payload, topic_for("m1", Kind.TELEMETRY)).reason is Reason.UNKNOWN_TOPIC
    assert refused(payload, "factory/m1/command").reason is Reason.UNKNOWN_TOPIC


def test_a_rejection_ack_echoes_what_can_be_read():
    err = refused(body(type="dance", command_id="c42"))
    ack = CommandAck.reject("m1", body(type="dance", command_id="c42"), err, 1_700_000_000_000)
    assert (ack.accepted, ack.command_id, ack.type, ack.reason, ack.field) == (
        False,
        "c42",
        "dance",
        "unknown_command",
        "type",
    )
    garbled = CommandAck.reject("m1", b"\xff{", refused(b"\xff{"), 1)
    assert (garbled.command_id, garbled.type, garbled.reason) == (None, None, "not_json")
    wire = msgspec.json.decode(msgspec.json.encode(ack), type=CommandAck)
    assert wire == ack


def test_an_accepted_ack_names_the_command():
    ack = CommandAck.accept(GOOD[3], timestamp=10, applies_at=12)
    assert (ack.accepted, ack.command_id, ack.type, ack.applies_at) == (
        True,
        "c4",
        "inject_fault",
        12,
    )
    assert ack.reason is None


def test_every_fault_kind_is_accepted_but_failure():
    for kind in FAULT_KINDS:
        assert decode_command(TOPIC, body(type="inject_fault", kind=kind)).kind == kind
    assert "failure" not in FAULT_KINDS
