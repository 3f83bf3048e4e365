"""The shared path: event time, dedupe across runs, derivers, quarantine."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from mqtt_helpers import overloading_fleet

import modax
from modax.lake import Lake, arrow_filesystem
from modax.pipeline import BootClock, Pipeline

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


@pytest.mark.parametrize("blocked", ["telemetry", "safety_events", "aggregates_1s"])
def test_derived_rows_after_a_failed_commit_equal_a_run_without_it(tmp_path, blocked):
    """Issue 17 item 3: a commit fails mid-ingest (a file where the new date's folder goes),
    the batch is retried on the same pipeline once the lake is writable again."""
    batches = overloading_fleet(20)
    reference = Pipeline(tmp_path / "reference")
    for batch in batches:
        reference.process(*batch)
    reference.close()

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
    topics, payloads = legacy("m1", since_boot[:10])
    rebooted = [p.replace(b'"motor_currents": [3.0]', b'"motor_currents": [5.5]') for p in payloads]
    restart = boot + 60_000
    result = Pipeline(lake_dir, derivers=[]).process(topics, rebooted, [restart] * 10)
    assert (result.accepted, result.duplicates) == (10, 0)
    assert stored_ts(lake_dir)[30:] == [restart - 100 + t for t in since_boot[:10]]


@pytest.mark.parametrize("blocked", ["telemetry", "safety_events", "aggregates_1s"])
def test_derived_rows_after_a_restart_mid_failure_equal_a_run_without_it(tmp_path, blocked):
    """Issue 17 item 3 as filed: the disk fills, the process is stopped with a batch it could not
    commit (no flush), the lake gets room, and a new process takes the batch again and goes on."""
    batches = overloading_fleet(20)
    reference = Pipeline(tmp_path / "reference")
    for batch in batches:
        reference.process(*batch)
    reference.close()

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
