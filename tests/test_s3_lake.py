"""The lake on S3-compatible object storage: a real moto server over HTTP, no client mocks."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pytest
from typer.testing import CliRunner

import modax
from modax.cli import app
from modax.lake import CorruptTableError, Damage, Lake, arrow_filesystem
from simulator import Fleet

DAY = datetime(2026, 3, 1, tzinfo=UTC)


def readings(device: str, first_seq: int, n: int, day: datetime = DAY) -> pa.Table:
    ts = [day + timedelta(milliseconds=100 * (first_seq + i)) for i in range(n)]
    return pa.table(
        {
            "device_id": [device] * n,
            "seq": pa.array(range(first_seq, first_seq + n), pa.int64()),
            "ts": pa.array(ts, pa.timestamp("ms", tz="UTC")),
            "current_1": pa.array([4.0 + i / 100 for i in range(n)], pa.float32()),
        }
    )


def data_files(lake: Lake, name: str) -> list[str]:
    """The Parquet objects under a table's prefix in the bucket (what is really stored)."""
    store = arrow_filesystem(lake.table_uri(name), lake.storage_options)
    listed = store.get_file_info(pafs.FileSelector("", recursive=True))
    return sorted(i.path for i in listed if i.path.endswith(".parquet"))


def test_round_trip_time_travel_compact_and_vacuum(s3_lake: str):
    lake = Lake(s3_lake)
    assert lake.root.startswith("s3://") and lake.storage_options["conditional_put"] == "etag"
    for batch in range(3):
        lake.append("telemetry", readings("m-1", batch * 10, 10))
    assert lake.tables() == ["telemetry"]
    assert lake.version("telemetry") == 2
    assert lake.read("telemetry", version=0)["seq"].to_pylist() == list(range(10))
    assert sorted(lake.read("telemetry")["seq"].to_pylist()) == list(range(30))
    before = data_files(lake, "telemetry")
    assert len(before) == 3

    assert lake.compact("telemetry")["files_deleted"] == 0  # kept for readers (7 days)
    assert set(before) < set(data_files(lake, "telemetry"))
    metrics = lake.compact("telemetry", retention_hours=0)

    assert metrics == {
        "files_added": 0,
        "files_removed": 0,
        "partitions_clustered": 0,
        "conflicts": 0,
        "files_deleted": 3,
    }
    after = data_files(lake, "telemetry")
    assert len(after) == 1 and not set(after) & set(before)
    assert sorted(lake.read("telemetry")["seq"].to_pylist()) == list(range(30))
    assert [c["operation"] for c in lake.history("telemetry")][:2] == ["VACUUM END", "VACUUM START"]


def test_connect_queries_s3_tables_with_duckdb(s3_lake: str):
    lake = Lake(s3_lake)
    lake.append("telemetry", readings("m-1", 0, 5))
    lake.append("telemetry", readings("m-2", 0, 7))
    lake.append("quarantine", pa.table({"received_at": readings("x", 0, 1)["ts"], "r": ["bad"]}))
    with modax.connect(s3_lake) as con:
        assert con.tables == ["quarantine", "telemetry"]
        rows = con.sql(
            "select device_id, count(*), max(seq) from telemetry group by 1 order by 1"
        ).fetchall()
    assert rows == [("m-1", 5, 4), ("m-2", 7, 6)]


WRITER = """
import sys
from datetime import UTC, datetime, timedelta
import pyarrow as pa
from modax.lake import Lake

root, writer, batches = sys.argv[1], sys.argv[2], int(sys.argv[3])
lake = Lake(root)
for batch in range(batches):
    ts = [datetime(2026, 3, 1, tzinfo=UTC) + timedelta(seconds=batch * 5 + i) for i in range(5)]
    lake.append("telemetry", pa.table({
        "device_id": [writer] * 5,
        "seq": pa.array(range(batch * 5, batch * 5 + 5), pa.int64()),
        "ts": pa.array(ts, pa.timestamp("ms", tz="UTC")),
    }))
"""


def test_two_writers_appending_to_one_table_lose_nothing(s3_lake: str):
    # Neither writer finds the table: both race to create it, then to append. Two processes
    # commit through S3 conditional writes; a lost race is retried, never dropped.
    batches = 3
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, s3_lake, f"w-{w}", str(batches)])
        for w in range(2)
    ]
    assert [p.wait(timeout=120) for p in writers] == [0, 0]

    lake = Lake(s3_lake)
    table = lake.read("telemetry")
    keys = sorted(zip(table["device_id"].to_pylist(), table["seq"].to_pylist(), strict=True))
    assert keys == sorted((f"w-{w}", s) for w in range(2) for s in range(batches * 5))
    assert lake.version("telemetry") == 2 * batches - 1


def _cli(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_every_command_works_on_s3(s3_lake: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv("MODAX_LAKE", s3_lake)
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    old = today - timedelta(days=3)
    args = ["--devices", "3", "--duration", "5s", "--start", old.isoformat(), "--json"]
    summary = json.loads(_cli("simulate", *args))
    assert summary["rows_written"]["telemetry"] == 3 * 5 * 10
    recording = tmp_path / "recorded.jsonl"
    messages = Fleet(n_devices=2, seed=7, prefix="rec", start=today).run(duration_s=3).messages()
    recording.write_text(
        "".join(json.dumps({"topic": t, "payload": p.decode()}) + "\n" for _, t, p in messages)
    )
    replayed = json.loads(_cli("replay", str(recording), "--batch-size", "25", "--format", "json"))
    assert replayed["rows_written"]["telemetry"] == 2 * 3 * 10

    count = "select count(*) as n from telemetry"
    assert json.loads(_cli("query", count, "--format", "json")) == [{"n": 150 + 60}]
    lake = Lake(s3_lake)
    files_before = len(data_files(lake, "telemetry"))
    assert "telemetry: " in _cli("compact", "telemetry", "--vacuum-retention-h", "0")
    assert len(data_files(lake, "telemetry")) == 2 < files_before  # one file per date left
    assert "telemetry: 150 rows deleted" in _cli("retention", "--days", "1")
    assert len(data_files(lake, "telemetry")) == 2  # the old date's file, kept for readers
    assert json.loads(_cli("query", count, "--format", "json")) == [{"n": 60}]

    exported = tmp_path / "lake.duckdb"
    _cli("export", "--duckdb", str(exported))
    with duckdb.connect(str(exported), read_only=True) as con:
        assert con.sql("select count(*) from telemetry").fetchall() == [(60,)]
        assert con.sql("select min(date) from telemetry").fetchall() == [(today.date(),)]


def test_a_plain_http_endpoint_without_allow_http_is_a_one_line_config_error(
    s3_lake: str, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.delenv("AWS_ALLOW_HTTP")
    monkeypatch.setenv("MODAX_LAKE", s3_lake)
    result = CliRunner().invoke(app, ["query", "select 1"])
    assert result.exit_code == 3
    assert "AWS_ALLOW_HTTP=true" in result.output and "Traceback" not in result.output


def test_retained_rows_are_gone_from_the_bucket(s3_lake: str):
    lake = Lake(s3_lake)
    lake.append("telemetry", readings("m-1", 0, 4, day=datetime(2026, 1, 1, tzinfo=UTC)))
    lake.append("telemetry", readings("m-1", 4, 4, day=datetime(2026, 1, 9, tzinfo=UTC)))
    deleted = lake.retain(3, now=datetime(2026, 1, 10, tzinfo=UTC), retention_hours=0)
    assert deleted == {"telemetry": 4}
    files = data_files(lake, "telemetry")
    assert files and all("date=2026-01-09" in f for f in files)
    assert pc.min(lake.read("telemetry")["seq"]).as_py() == 4


def test_a_damaged_last_commit_in_the_bucket_is_found_and_moved_aside(s3_lake: str):
    lake = Lake(s3_lake)
    for batch in range(3):
        lake.append("telemetry", readings("m-1", batch * 10, 10))
    bucket = arrow_filesystem(s3_lake, lake.storage_options)
    last = "telemetry/_delta_log/00000000000000000002.json"
    with bucket.open_output_stream(last) as stream:
        stream.write(b"")
    damaged = Lake(s3_lake)
    with pytest.raises(CorruptTableError, match=f"{s3_lake}/{last} is empty"):
        damaged.append("telemetry", readings("m-1", 30, 10))
    (problem,) = damaged.check()
    assert problem.damage is Damage.last_commit
    assert "is one version back" in damaged.repair(problem)
    assert damaged.check() == []
    assert damaged.append("telemetry", readings("m-1", 30, 10)) == 2
    assert sorted(damaged.read("telemetry")["seq"].to_pylist()) == [*range(20), *range(30, 40)]
    moved = bucket.get_file_info(pafs.FileSelector("telemetry/_repair"))
    assert [info.size for info in moved] == [0]
