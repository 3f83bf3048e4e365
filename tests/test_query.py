"""modax.connect(): DuckDB views over the lake's snapshots, readers while a writer appends."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime

import pyarrow as pa
import pytest
from deltalake import write_deltalake

import modax
from modax.lake import Lake, LakeError
from modax.testing import wait_for

TS = pa.timestamp("ms", tz="UTC")


def batch(k: int, n: int = 100) -> pa.Table:
    ts = pa.array([datetime(2026, 1, 1, tzinfo=UTC)] * n, TS)
    return pa.table({"ts": ts, "batch": [k] * n, "value": list(range(n))})


def test_views_follow_refresh(lake_dir):
    lake = Lake(lake_dir)
    lake.append("readings", batch(0))
    con = modax.connect(lake_dir)
    assert con.tables == ["readings"]
    assert con.sql("select count(*) from readings").fetchall() == [(100,)]
    lake.append("readings", batch(1))
    lake.append("other", batch(2))
    assert con.sql("select count(*) from readings").fetchall() == [(100,)]
    assert con.refresh() == ["other", "readings"]
    assert con.sql("select count(*) from readings").fetchall() == [(200,)]


def test_a_held_snapshot_keeps_working_while_compaction_and_retention_run(lake_dir):
    lake = Lake(lake_dir)
    for k in range(4):
        lake.append("readings", batch(k))
    old = datetime(2025, 1, 1, tzinfo=UTC)
    lake.append("readings", batch(9).set_column(0, "ts", pa.array([old] * 100, TS)))
    con = modax.connect(lake_dir)
    count = "select count(*) from readings"
    assert con.sql(count).fetchall() == [(500,)]
    assert lake.compact("readings")["files_removed"] == 4
    assert lake.retain(days=30, now=datetime(2026, 1, 2, tzinfo=UTC)) == {"readings": 100}
    assert con.sql(count).fetchall() == [(500,)]  # the snapshot it holds, files still there
    assert con.execute("select sum(value) from readings").fetchall() == [(5 * 4950,)]
    con.refresh()
    assert con.sql(count).fetchall() == [(400,)]


def test_a_snapshot_whose_files_were_vacuumed_refreshes_itself_and_runs_again(lake_dir):
    lake = Lake(lake_dir, vacuum_retention_hours=0)
    lake.append("readings", batch(0))
    con = modax.connect(lake_dir)
    relation = con.sql("select batch, count(*) as n from readings group by 1")

    def replace_every_file(k: int) -> None:
        lake.append("readings", batch(k))
        assert lake.compact("readings")["files_deleted"] == 2

    replace_every_file(1)
    assert con.sql("select count(*) from readings").fetchall() == [(200,)]
    replace_every_file(2)
    assert sorted(relation.filter("batch > 0").fetchall()) == [(1, 100), (2, 100)]
    replace_every_file(3)
    assert con.execute("select count(*) from readings where batch < ?", [2]).fetchall() == [(200,)]
    replace_every_file(4)
    assert len(con.sql("select * from readings")) == 500
    assert con.tables == ["readings"]


def test_queries_still_read_the_callers_python_variables(lake_dir):
    Lake(lake_dir).append("readings", batch(0))
    con = modax.connect(lake_dir)
    limits = pa.table({"batch": [0], "limit_value": [10]})  # noqa: F841  (DuckDB reads it)
    joined = "select count(*) from readings join limits using (batch) where value < limit_value"
    assert con.sql(joined).fetchall() == [(10,)]
    assert con.execute(joined).fetchall() == [(10,)]
    relation = con.sql("select * from limits")  # noqa: F841  (DuckDB reads it)
    assert con.sql("select count(*) from relation").fetchall() == [(1,)]


def test_a_data_file_missing_from_the_newest_snapshot_is_one_clear_error(lake_dir):
    lake = Lake(lake_dir)
    lake.append("readings", batch(0))
    con = modax.connect(lake_dir)
    (lost,) = (lake_dir / "readings").rglob("*.parquet")
    lost.unlink()
    with pytest.raises(LakeError) as caught:
        con.sql("select count(*) from readings").fetchall()
    assert str(caught.value).startswith(f"table 'readings': data file {lost} of its newest")
    assert "modax lake repair readings" in str(caught.value)


def view_sql(con: modax.LakeConnection, name: str) -> str:
    [(sql,)] = con.sql(f"select sql from duckdb_views() where view_name = '{name}'").fetchall()
    return sql


def test_files_of_one_schema_are_read_without_matching_columns_by_name(lake_dir):
    lake = Lake(lake_dir)
    for k in range(3):
        lake.append("readings", batch(k))
    con = modax.connect(lake_dir)
    assert "union_by_name = false" in view_sql(con, "readings")
    assert con.sql("select batch, sum(value) from readings group by 1 order by 1").fetchall() == [
        (k, 4950) for k in range(3)
    ]


def test_a_column_added_later_reads_as_null_in_older_files(lake_dir):
    lake = Lake(lake_dir)
    lake.append("readings", batch(0))
    newer = batch(1).append_column("extra", pa.array([2.5] * 100))
    newer = newer.append_column("date", pa.array([datetime(2026, 1, 1).date()] * 100))
    write_deltalake(
        lake.table_uri("readings"), newer, mode="append", schema_mode="merge", partition_by=["date"]
    )
    con = modax.connect(lake_dir)
    assert "union_by_name = true" in view_sql(con, "readings")
    rows = "select batch, count(*), count(extra), sum(extra) from readings group by 1 order by 1"
    assert con.sql(rows).fetchall() == [(0, 100, 0, None), (1, 100, 100, 250.0)]


def test_timestamps_are_utc(lake_dir):
    Lake(lake_dir).append("readings", batch(0, 1))
    (ts,) = modax.connect(lake_dir).sql("select ts from readings").fetchall()[0]
    assert ts.utcoffset().total_seconds() == 0


WRITER = """
import sys, pyarrow as pa
from datetime import datetime, UTC
from modax.lake import Lake, LakeError
lake = Lake(sys.argv[1])
for k in range(1, 31):
    ts = pa.array([datetime(2026, 1, 1, tzinfo=UTC)] * 100, pa.timestamp("ms", tz="UTC"))
    lake.append("readings", pa.table({"ts": ts, "batch": [k] * 100, "value": list(range(100))}))
"""


def test_reader_sees_whole_batches_while_another_process_writes(lake_dir):
    Lake(lake_dir).append("readings", batch(0))
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(lake_dir)])
    con = modax.connect(lake_dir)
    try:

        def consistent_snapshot_with_all_batches() -> bool:
            con.refresh()
            rows = con.sql("select batch, count(*) from readings group by batch").fetchall()
            assert all(count == 100 for _, count in rows), rows
            return len(rows) == 31

        wait_for(consistent_snapshot_with_all_batches, timeout=60, what="all 31 batches")
    finally:
        writer.wait(timeout=60)
    assert writer.returncode == 0
