"""The shared path: event time, dedupe across runs, derivers, quarantine."""

from __future__ import annotations

import hashlib
import json

import pyarrow as pa
import pyarrow.compute as pc
import pytest

import modax
from modax.lake import Lake
from modax.pipeline import BootClock, Pipeline
from modax.schema import QUARANTINE_SCHEMA

NOW = 1_763_900_000_000


def payload(device: str, timestamp: int, seq: int | None = None) -> bytes:
    msg = {
        "timestamp": timestamp,
        "device_id": device,
        "motor_currents": [3.0],
        "vibration": {"x": 0.0, "y": 0.0, "z": 9.8, "magnitude": 9.8},
        "temperatures": [30.0],
    }
    if seq is not None:
        msg["seq"] = seq
    return json.dumps(msg).encode()


def ms(array: pa.Array) -> list[int]:
    return pc.cast(array, pa.int64()).to_pylist()


def test_since_boot_timestamps_are_anchored_per_boot():
    clock = BootClock()
    dev = pa.array(["a", "a", "b", "a"])
    first = clock.event_time(
        dev, pa.array([1_000, 1_500, 50, 2_000]), pa.array([NOW, NOW + 900, NOW, NOW + 1_200])
    )
    assert ms(first) == [NOW, NOW + 500, NOW, NOW + 1_000]
    rebooted = clock.event_time(pa.array(["a"]), pa.array([10]), pa.array([NOW + 60_000]))
    assert ms(rebooted) == [NOW + 60_000]
    epoch = clock.event_time(pa.array(["c"]), pa.array([NOW - 5]), pa.array([NOW]))
    assert ms(epoch) == [NOW - 5]


def test_messages_without_seq_are_deduplicated_on_timestamp(lake_dir):
    topics = ["modax/devices/m1/telemetry"] * 3
    payloads = [payload("m1", NOW), payload("m1", NOW), payload("m1", NOW + 100)]
    first = Pipeline(lake_dir).process(topics, payloads, [NOW] * 3)
    assert (first.accepted, first.duplicates) == (2, 1)
    second = Pipeline(lake_dir).process(topics, payloads, [NOW] * 3)
    assert (second.accepted, second.duplicates) == (0, 3)


class CountingDeriver:
    """A deriver that writes one summary row per batch: shows the derive hook's contract."""

    def __init__(self) -> None:
        self.batches = 0

    def process(
        self, telemetry: pa.Table, device_safety: pa.Table, now_ms: int
    ) -> dict[str, pa.Table]:
        self.batches += 1
        if telemetry.num_rows == 0:
            return {}
        return {"batch_sizes": pa.table({"ts": telemetry["ts"][:1], "rows": [telemetry.num_rows]})}

    def flush(self) -> dict[str, pa.Table]:
        return {}


def test_derivers_see_only_new_readings(lake_dir):
    deriver = CountingDeriver()
    pipeline = Pipeline(lake_dir, derivers=[deriver])
    topics = ["modax/devices/m1/telemetry"] * 2
    pipeline.process(topics, [payload("m1", NOW, 1), payload("m1", NOW, 2)], [NOW, NOW])
    pipeline.process(topics, [payload("m1", NOW, 2), payload("m1", NOW, 3)], [NOW, NOW])
    assert deriver.batches == 2
    rows = modax.connect(lake_dir).sql("select rows from batch_sizes order by ts, rows").fetchall()
    assert sorted(rows) == [(1,), (2,)]


def test_status_messages_land_in_devices(lake_dir):
    Pipeline(lake_dir, derivers=[]).process(
        ["modax/devices/m1/status", "modax/devices/m1/status"],
        [
            b'{"device_id":"m1","online":true,"firmware_version":"2.0.1","uptime_ms":5}',
            b'{"device_id":"m1","online":false}',
        ],
        [NOW, NOW + 1],
    )
    rows = (
        modax.connect(lake_dir)
        .sql("select online, firmware_version from devices order by received_at")
        .fetchall()
    )
    assert rows == [(True, "2.0.1"), (False, None)]


def test_batch_producers_take_the_same_path_with_store(lake_dir):
    import simulator

    result = simulator.Fleet(n_devices=3, seed=4, scenario="healthy").run(duration_s=20)
    first = Pipeline(lake_dir, derivers=[]).store(result.telemetry, result.device_safety)
    assert first.rows["telemetry"] == result.telemetry.num_rows > 0
    again = Pipeline(lake_dir, derivers=[]).store(result.telemetry, result.device_safety)
    assert again.accepted == 0
    assert again.duplicates == result.telemetry.num_rows + result.device_safety.num_rows


def test_a_second_writer_sees_what_the_first_committed(lake_dir):
    topics = ["modax/devices/m1/telemetry"] * 2
    a, b = Pipeline(lake_dir, derivers=[]), Pipeline(lake_dir, derivers=[])
    assert (
        b.process(topics[:1], [payload("m1", NOW, 1)], [NOW]).accepted == 1
    )  # b has indexed the day
    assert (
        a.process(topics, [payload("m1", NOW, 2), payload("m1", NOW, 3)], [NOW] * 2).accepted == 2
    )
    redelivered = b.process(topics, [payload("m1", NOW, 2), payload("m1", NOW, 3)], [NOW] * 2)
    assert (redelivered.accepted, redelivered.duplicates) == (0, 2)


# --- issue 17: poison input never stops the pipeline ------------------------------------------

DAY_MS = 86_400_000
SAFETY = {
    "timestamp": NOW,
    "device_id": "d1",
    "emergency_stop": False,
    "door_closed": True,
    "overload_detected": False,
    "temperature_ok": True,
}
NESTED = b'{"device_id":"d1","x":' + b"[" * 1_000 + b"]" * 1_000 + b"}"
POISON = [
    ("modax/devices/d1/telemetry", payload("d1", NOW, 2**63), "out_of_range", "seq"),
    ("modax/devices/d1/telemetry", payload("d1", 10**17, 1), "timestamp_in_future", "timestamp"),
    ("modax/devices/d1/telemetry", NESTED, "too_deep", None),
    (
        "modax/devices/d1/status",
        b'{"device_id":"d1","online":true,"uptime_ms":9223372036854775808}',
        "out_of_range",
        "uptime_ms",
    ),
    (
        "modax/devices/d1/status",
        b'{"device_id":"d1","online":true,"timestamp":100000000000000000}',
        "timestamp_in_future",
        "timestamp",
    ),
    (
        "modax/devices/d1/safety",
        json.dumps({**SAFETY, "seq": 2**63}).encode(),
        "out_of_range",
        "seq",
    ),
]


def good_batch(n: int = 6) -> tuple[list[str], list[bytes]]:
    devices = [f"g{i % 3}" for i in range(n)]
    return (
        [f"modax/devices/{d}/telemetry" for d in devices],
        [payload(d, NOW + i * 100, i) for i, d in enumerate(devices)],
    )


@pytest.mark.parametrize(("topic", "raw", "reason", "field"), POISON)
def test_a_poison_message_is_quarantined_and_the_rest_of_the_batch_stored(
    lake_dir, topic, raw, reason, field
):
    topics, payloads = good_batch()
    result = Pipeline(lake_dir).process(
        [*topics[:3], topic, *topics[3:]], [*payloads[:3], raw, *payloads[3:]], [NOW] * 7
    )
    assert (result.accepted, dict(result.quarantined)) == (6, {reason: 1})
    con = modax.connect(lake_dir)
    assert con.sql("select count(*) from telemetry").fetchall() == [(6,)]
    assert con.sql("select reason, field, topic from quarantine").fetchall() == [
        (reason, field, topic)
    ]


def test_far_future_readings_are_quarantined_and_later_readings_are_not_late(lake_dir):
    topic = "modax/devices/m1/telemetry"
    year_2200, year_9999 = 7_258_118_400_000, 253_402_214_400_000
    pipeline = Pipeline(lake_dir)
    first = pipeline.process(
        [topic] * 3, [payload("m1", year_2200, 0), payload("m1", year_9999, 1), b""], [NOW] * 3
    )
    assert first.quarantined == {"timestamp_in_future": 2, "empty_payload": 1}
    later = [payload("m1", NOW + i * 100, i) for i in range(2, 32)]
    assert pipeline.process([topic] * 30, later, [NOW + 3_100] * 30).accepted == 30
    pipeline.close()
    con = modax.connect(lake_dir)
    assert con.sql("select distinct cast(date as varchar) from telemetry").fetchall() == [
        ("2025-11-23",)
    ]
    assert con.sql("select sum(count) from aggregates_1s").fetchall() == [(30,)]


def test_the_clock_skew_comes_from_modax_max_clock_skew_s(lake_dir, monkeypatch):
    topic = "modax/devices/m1/telemetry"
    ahead = payload("m1", NOW + 120_000, 1)
    monkeypatch.setenv("MODAX_MAX_CLOCK_SKEW_S", "60")
    assert Pipeline(lake_dir, derivers=[]).process([topic], [ahead], [NOW]).quarantined == {
        "timestamp_in_future": 1
    }
    assert (
        Pipeline(lake_dir, derivers=[], max_clock_skew_s=300)
        .process([topic], [ahead], [NOW])
        .accepted
        == 1
    )


def test_repeats_of_a_bad_payload_are_counted_and_its_payload_stored_once(lake_dir):
    topic, bad = "modax/devices/m1/telemetry", b"not json"
    first = Pipeline(lake_dir, derivers=[]).process([topic] * 3, [bad] * 3, [NOW, NOW + 5, NOW + 9])
    assert first.quarantined == {"not_json": 3}
    restarted = Pipeline(lake_dir, derivers=[])
    assert restarted.process([topic] * 2, [bad] * 2, [NOW + 20, NOW + 30]).quarantined == {
        "not_json": 2
    }
    rows = modax.connect(lake_dir).sql(
        "select payload, count, epoch_ms(first_seen), epoch_ms(last_seen), payload_sha256 "
        "from quarantine order by first_seen"
    )
    sha = hashlib.sha256(bad).hexdigest()
    assert rows.fetchall() == [(bad, 3, NOW, NOW + 9, sha), (None, 2, NOW + 20, NOW + 30, sha)]


def test_the_quarantine_index_reads_only_the_days_a_batch_touches(lake_dir):
    topic = "modax/devices/m1/telemetry"
    writer = Pipeline(lake_dir, derivers=[])
    for day in range(1, 6):
        bad = [b"bad %d %d" % (day, i) for i in range(200)]
        writer.process([topic] * 200, bad, [NOW - day * DAY_MS] * 200)
    restarted = Pipeline(lake_dir, derivers=[])
    result = restarted.process([topic] * 2, [b"bad 1 7", b"new"], [NOW - DAY_MS, NOW])
    assert result.quarantined == {"not_json": 2}
    assert restarted._quarantine_index.keys == 200 + 1  # day -1 read back, and today
    repeat = modax.connect(lake_dir).sql(
        "select payload, count from quarantine where payload_sha256 = ?",
        params=[hashlib.sha256(b"bad 1 7").hexdigest()],
    )
    assert sorted(repeat.fetchall(), key=str) == [(None, 1), (b"bad 1 7", 1)]


class FailsOnDevice:
    """A deriver with a bug that one device's readings trigger (a real step of the pipeline)."""

    def __init__(self, device: str, error: type[Exception] = ValueError) -> None:
        self.device = device
        self.error = error

    def process(
        self, telemetry: pa.Table, device_safety: pa.Table, now_ms: int
    ) -> dict[str, pa.Table]:
        if self.device in telemetry["device_id"].to_pylist():
            raise self.error(f"cannot derive from {self.device}")
        return {}

    def flush(self) -> dict[str, pa.Table]:
        return {}


def test_a_message_that_makes_a_step_fail_is_isolated_and_quarantined(lake_dir):
    topics, payloads = good_batch(20)
    culprit = payload("bad", NOW, 1)
    topics.insert(13, "modax/devices/bad/telemetry")
    payloads.insert(13, culprit)
    pipeline = Pipeline(lake_dir, derivers=[FailsOnDevice("bad")])
    result = pipeline.process(topics, payloads, [NOW] * 21)
    assert (result.received, result.accepted, dict(result.quarantined)) == (
        21,
        20,
        {"internal_error": 1},
    )
    con = modax.connect(lake_dir)
    assert con.sql("select count(*) from telemetry where device_id = 'bad'").fetchall() == [(0,)]
    assert con.sql("select count(*) from telemetry").fetchall() == [(20,)]
    assert con.sql("select payload, detail from quarantine").fetchall() == [
        (culprit, "ValueError: cannot derive from bad")
    ]


def test_an_infrastructure_error_is_raised_and_nothing_is_quarantined(lake_dir):
    topics, payloads = good_batch()
    pipeline = Pipeline(lake_dir, derivers=[FailsOnDevice("g1", OSError)])
    with pytest.raises(OSError, match="cannot derive"):
        pipeline.process(topics, payloads, [NOW] * 6)
    assert Lake(lake_dir).tables() == []  # derived before anything is committed


OLD_QUARANTINE_COLUMNS = ("topic", "payload", "reason", "field", "detail", "received_at", "date")


def test_a_quarantine_table_from_before_the_size_and_count_columns_still_takes_rows(lake_dir):
    old_layout = pa.schema([f for f in QUARANTINE_SCHEMA if f.name in OLD_QUARANTINE_COLUMNS])
    received = pa.array([NOW], pa.int64()).cast(pa.timestamp("ms", tz="UTC"))
    old_row = {
        "topic": ["modax/devices/m1/telemetry"],
        "payload": [b"old bad"],
        "reason": ["not_json"],
        "field": [None],
        "detail": ["not valid JSON"],
        "received_at": received,
        "date": pc.cast(received, pa.date32()),
    }
    Lake(lake_dir).append("quarantine", pa.table(old_row, schema=old_layout))
    topic = "modax/devices/m1/telemetry"
    result = Pipeline(lake_dir, derivers=[]).process([topic] * 2, [b"old bad", b"new"], [NOW] * 2)
    assert result.quarantined == {"not_json": 2}
    rows = modax.connect(lake_dir).sql(
        "select payload from quarantine order by payload nulls first"
    )
    assert rows.fetchall() == [(None,), (b"new",), (b"old bad",)]  # the old row's hash is known
