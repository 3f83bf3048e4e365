"""The shared path: event time, dedupe across runs, derivers, quarantine."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import payloads
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from mqtt_helpers import overloading_fleet

import modax
from modax.lake import Lake, arrow_filesystem
from modax.pipeline import BootClock, Pipeline
from modax.schema import QUARANTINE_SCHEMA

NOW = 1_763_900_000_000


def payload(device: str, timestamp: int, seq: int | None = None) -> bytes:
    return payloads.telemetry(
        device,
        seq,
        timestamp=timestamp,
        currents=(3.0,),
        temperatures=(30.0,),
        vibration=(0.0, 0.0, 9.8, 9.8),
    )


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


def legacy(device: str, since_boot: list[int]) -> tuple[list[str], list[bytes]]:
    """Telemetry of a device without NTP nor ``seq`` (the MODAX firmware): ms since boot."""
    return [f"modax/devices/{device}/telemetry"] * len(since_boot), [
        payload(device, t) for t in since_boot
    ]


def stored_ts(lake_dir) -> list[int]:
    return [
        int(v.timestamp() * 1000)
        for (v,) in modax.connect(lake_dir).sql("select ts from telemetry order by ts").fetchall()
    ]


def test_a_reboot_that_repeats_since_boot_timestamps_is_stored_as_a_second_boot(lake_dir):
    """Issue 17 item 2: boots sent in a burst (no receive-time gap) are still two boots."""
    topics, payloads = legacy("m1", [100 * k for k in range(1, 51)] * 2)
    first = Pipeline(lake_dir, derivers=[]).process(topics, payloads, [NOW] * 100)
    assert (first.accepted, first.duplicates) == (100, 0)
    ts = stored_ts(lake_dir)
    assert len(set(ts)) == 100 and ts[50] > ts[49]  # the second boot starts after the first
    again = Pipeline(lake_dir, derivers=[]).process(topics, payloads, [NOW] * 100)
    assert (again.accepted, again.duplicates) == (0, 100)


def test_readings_queued_while_the_ingester_was_down_keep_their_boot(lake_dir):
    """Issue 17 item 4: a restart does not re-anchor the boot on the restart time."""
    before = [100 * k for k in range(1, 51)]
    queued = [100 * k for k in range(51, 101)]
    boot = NOW - 100  # received 0 ms after sending
    Pipeline(lake_dir, derivers=[]).process(*legacy("m1", before), [boot + t for t in before])
    restart = boot + queued[-1] + 27_000  # everything queued arrives at once after 27 s
    result = Pipeline(lake_dir, derivers=[]).process(*legacy("m1", queued), [restart] * 50)
    assert result.accepted == 50
    assert stored_ts(lake_dir) == [boot + t for t in before + queued]


def test_a_redelivery_after_a_restart_across_midnight_is_stored_once(lake_dir):
    """Issue 17 item 4: committed, not acknowledged, redelivered 30 s later by another session."""
    midnight = 1_763_942_400_000  # 2025-11-24T00:00:00Z
    since_boot = [100 * k for k in range(1, 21)]
    boot = midnight - 1_000  # readings 23:59:59.1 .. 00:00:01.0
    Pipeline(lake_dir, derivers=[]).process(
        *legacy("m1", since_boot), [boot + t for t in since_boot]
    )
    redelivered = [boot + t + 30_000 for t in since_boot]
    result = Pipeline(lake_dir, derivers=[]).process(*legacy("m1", since_boot), redelivered)
    assert (result.accepted, result.duplicates) == (0, 20)
    assert stored_ts(lake_dir) == [boot + t for t in since_boot]


def derived(lake_dir: Path | str) -> dict[str, list[tuple]]:
    con = modax.connect(lake_dir)
    return {
        name: con.sql(f"select * exclude (date) from {name} order by all").fetchall()
        for name in ("aggregates_1s", "safety_events")
    }


def run_without_failure(lake_dir, batches) -> None:
    """The reference lake: every batch through one pipeline, flushed."""
    reference = Pipeline(lake_dir)
    for batch in batches:
        reference.process(*batch)
    reference.close()


@pytest.mark.parametrize("blocked", ["telemetry", "safety_events", "aggregates_1s"])
def test_derived_rows_after_a_failed_commit_equal_a_run_without_it(tmp_path, blocked):
    """Issue 17 item 3: a commit fails mid-ingest (a file where the new date's folder goes),
    the batch is retried on the same pipeline once the lake is writable again."""
    batches = overloading_fleet(20)
    run_without_failure(tmp_path / "reference", batches)

    lake_dir = tmp_path / "lake"
    pipeline = Pipeline(lake_dir)
    obstacle = lake_dir / blocked / "date=2025-11-24"
    failures = 0
    for i, batch in enumerate(batches):
        if i == 8:  # the lake has every table by now; the new date comes soon
            obstacle.write_bytes(b"in the way")
        try:
            pipeline.process(*batch)
        except Exception:
            failures += 1
            obstacle.unlink()
            pipeline.process(*batch)
    pipeline.close()
    assert failures == 1
    assert derived(lake_dir) == derived(tmp_path / "reference")
    con = modax.connect(lake_dir)
    assert con.sql(
        "select count(*), count(distinct (device_id, seq)) from telemetry"
    ).fetchall() == [(600, 600)]


def seq_batch(seqs: range) -> tuple[list[str], list[bytes], list[int]]:
    return (
        ["modax/devices/m1/telemetry"] * len(seqs),
        [payload("m1", NOW + s * 100, s) for s in seqs],
        [NOW + s * 100 for s in seqs],
    )


def test_a_restart_reads_the_saved_index_and_only_the_files_committed_since(lake_dir):
    """Issue 17 item 11: the covered files are not read again (one is made unreadable here)."""
    first = Pipeline(lake_dir, derivers=[])
    first.process(*seq_batch(range(0, 50)))
    first.close()  # saves the index beside the table
    saved = list((lake_dir / "_state" / "dedupe" / "telemetry").iterdir())
    assert [p.name for p in saved] == ["date=2025-11-23.arrow"]
    covered = next((lake_dir / "telemetry").glob("date=*/*.parquet"))
    Pipeline(lake_dir, derivers=[]).process(*seq_batch(range(50, 80)))  # committed after saving
    covered.write_bytes(b"not parquet any more")

    again = Pipeline(lake_dir, derivers=[]).process(*seq_batch(range(0, 90)))
    assert (again.accepted, again.duplicates) == (10, 80)


def compact_today(lake_dir: Path) -> None:
    """Bin-pack the open partition of ``NOW``'s day, as `modax maintain` does while ingesting."""
    now = datetime.fromtimestamp(NOW / 1000, UTC)
    assert Lake(lake_dir).compact("telemetry", now=now)["files_added"] == 1


def test_a_compactions_files_are_not_read_back(lake_dir):
    """Issue 17 (soak memory): the rows a compaction rewrote are indexed already.

    Reading the rewritten partition back after every compaction cost the soak's ingester its
    memory steps and a 10 s stall; the rewritten file is made unreadable here to show it is skipped.
    """
    pipeline = Pipeline(lake_dir, derivers=[])
    for start in (0, 30, 60):
        pipeline.process(*seq_batch(range(start, start + 30)))
    compact_today(lake_dir)
    [rewritten] = Lake(lake_dir).dataset("telemetry").files
    (lake_dir / "telemetry" / rewritten).write_bytes(b"not parquet any more")

    again = pipeline.process(*seq_batch(range(80, 110)))
    assert (again.accepted, again.duplicates) == (20, 10)
    pipeline.close()
    restarted = Pipeline(lake_dir, derivers=[]).process(*seq_batch(range(0, 120)))
    assert (restarted.accepted, restarted.duplicates) == (10, 110)


def test_a_compaction_of_files_the_index_has_not_read_is_read(lake_dir):
    """Another writer's rows that a compaction rewrote before this index looked are read back."""
    mine = Pipeline(lake_dir, derivers=[])
    mine.process(*seq_batch(range(0, 30)))
    other = Pipeline(lake_dir, derivers=[])
    other.process(*seq_batch(range(30, 60)))
    compact_today(lake_dir)

    again = mine.process(*seq_batch(range(0, 70)))
    assert (again.accepted, again.duplicates) == (10, 60)


def test_a_saved_index_that_cannot_be_read_is_ignored(lake_dir, caplog):
    first = Pipeline(lake_dir, derivers=[])
    first.process(*seq_batch(range(0, 50)))
    first.close()
    saved = lake_dir / "_state" / "dedupe" / "telemetry" / "date=2025-11-23.arrow"
    saved.write_bytes(b"garbage")
    again = Pipeline(lake_dir, derivers=[]).process(*seq_batch(range(0, 60)))
    assert (again.accepted, again.duplicates) == (10, 50)
    assert "ignoring the saved index" in caplog.text


def test_the_saved_index_works_on_s3(s3_lake):
    first = Pipeline(s3_lake, derivers=[])
    first.process(*seq_batch(range(0, 50)))
    first.close()
    lake = Lake(s3_lake)
    bucket = arrow_filesystem(lake.root, lake.storage_options)
    assert bucket.get_file_info("_state/dedupe/telemetry/date=2025-11-23.arrow").size > 0
    assert Pipeline(s3_lake, derivers=[]).process(*seq_batch(range(0, 60))).duplicates == 50


def test_a_new_session_takes_a_step_back_for_a_redelivery_not_a_reboot(lake_dir):
    """After a reconnect the broker sends again what was not acknowledged (legacy device)."""
    pipeline = Pipeline(lake_dir, derivers=[])
    boot = NOW - 100
    first = [100 * k for k in range(1, 31)]
    pipeline.process(*legacy("m1", first), [boot + t for t in first])
    pipeline.new_session()
    again = [100 * k for k in range(11, 41)]  # 1100..3000 redelivered, then 3100..4000
    result = pipeline.process(*legacy("m1", again), [boot + 9_000] * 30)
    assert (result.accepted, result.duplicates) == (10, 20)
    assert stored_ts(lake_dir) == [boot + t for t in range(100, 4_001, 100)]


def test_a_reboot_while_the_ingester_is_down_is_not_taken_for_a_redelivery(lake_dir):
    """Same since-boot timestamps as the stored boot, other readings: a new boot, not a repeat."""
    boot = NOW - 100
    since_boot = [100 * k for k in range(1, 31)]
    Pipeline(lake_dir, derivers=[]).process(
        *legacy("m1", since_boot), [boot + t for t in since_boot]
    )
    topics = legacy("m1", since_boot[:10])[0]
    rebooted = [payloads.telemetry("m1", timestamp=t, currents=(5.5,)) for t in since_boot[:10]]
    restart = boot + 60_000
    result = Pipeline(lake_dir, derivers=[]).process(topics, rebooted, [restart] * 10)
    assert (result.accepted, result.duplicates) == (10, 0)
    assert stored_ts(lake_dir)[30:] == [restart - 100 + t for t in since_boot[:10]]


@pytest.mark.parametrize("blocked", ["telemetry", "safety_events", "aggregates_1s"])
def test_derived_rows_after_a_restart_mid_failure_equal_a_run_without_it(tmp_path, blocked):
    """Issue 17 item 3 as filed: the disk fills, the process is stopped with a batch it could not
    commit (no flush), the lake gets room, and a new process takes the batch again and goes on.

    The 30 s before the failure are fed back in slices of event time (``SLICE_MS``, 15 s).
    """
    batches = overloading_fleet(60)
    run_without_failure(tmp_path / "reference", batches)

    lake_dir = tmp_path / "lake"
    crashed = Pipeline(lake_dir)
    for batch in batches[:8]:
        crashed.process(*batch)
    obstacle = lake_dir / blocked / "date=2025-11-24"
    obstacle.write_bytes(b"in the way")
    failed = 8
    while True:  # until the lake refuses the new date
        try:
            crashed.process(*batches[failed])
        except Exception:
            break
        failed += 1
    obstacle.unlink()
    del crashed  # stopped: open windows and state gone with it

    restarted = Pipeline(lake_dir)
    for batch in batches[failed:]:
        restarted.process(*batch)
    restarted.close()
    assert derived(lake_dir) == derived(tmp_path / "reference")
