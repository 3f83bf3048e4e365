"""Clustered layout: rows sorted by device and time, closed days rewritten so readers skip."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable
from deltalake.exceptions import CommitFailedError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import modax
from modax.lake import Lake, arrow_filesystem
from modax.lake._layout import ROW_GROUP_ROWS, cluster_partition
from modax.lake.dask import table_fragments
from modax.testing import wait_for

TS = pa.timestamp("ms", tz="UTC")
DAY = datetime(2026, 1, 1, tzinfo=UTC)
LATER = datetime(2026, 2, 1, tzinfo=UTC)  # "now" for compaction: 2026-01-01 is a closed day
QUERIES = (
    "select device_id, count(*), sum(v), min(ts), max(ts) from telemetry group by 1 order by 1",
    "select count(*), sum(v) from telemetry where device_id = 'd03'",
    "select date_trunc('minute', ts) as m, count(*), max(v) from telemetry "
    "where device_id in ('d01', 'd07') and ts >= '2026-01-01 00:10:00+00' group by 1 order by 1",
)


def fleet(devices: int, seconds: int, seed: int) -> pa.Table:
    """Readings of ``devices`` devices, one a second for ``seconds`` s, in arrival order."""
    rows = [(f"d{d:02d}", s) for s in range(seconds) for d in range(devices)]
    return pa.table(
        {
            "device_id": [d for d, _ in rows],
            "ts": pa.array([DAY + timedelta(seconds=s) for _, s in rows], TS),
            "seq": pa.array([s for _, s in rows], pa.int64()),
            "v": [float((seed * 7919 + i * 31) % 1000) for i in range(len(rows))],
        }
    )


def results(lake: Lake) -> list[list[tuple]]:
    con = modax.connect(lake)
    return [con.sql(q).fetchall() for q in QUERIES]


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    devices=st.integers(1, 12),
    seconds=st.integers(1, 1500),
    cuts=st.lists(st.floats(0, 1), max_size=6),
    seed=st.integers(0, 1000),
)
def test_compaction_never_changes_query_results(tmp_path_factory, devices, seconds, cuts, seed):
    lake = Lake(tmp_path_factory.mktemp("lake"), vacuum_retention_hours=0)
    rows = fleet(devices, seconds, seed)
    bounds = sorted({0, rows.num_rows, *(int(c * rows.num_rows) for c in cuts)})
    for lo, hi in itertools.pairwise(bounds):
        lake.append("telemetry", rows.slice(lo, hi - lo))
    before = results(lake)
    lake.compact("telemetry", now=LATER)
    assert all(p.clustered for p in lake.layout("telemetry"))
    assert results(lake) == before
    lake.compact("telemetry", now=LATER)  # a clustered day is left as it is
    assert results(lake) == before


def test_each_commit_is_sorted_by_device_then_time(lake_dir):
    lake = Lake(lake_dir)
    lake.append("telemetry", fleet(5, 30, 0))
    stored = lake.read("telemetry")
    assert stored.equals(stored.sort_by([("device_id", "ascending"), ("ts", "ascending")]))


def test_a_closed_day_is_rewritten_so_a_device_is_read_from_one_file(lake_dir, monkeypatch):
    monkeypatch.setattr("modax.lake._layout.TARGET_FILE_BYTES", 8_000)
    monkeypatch.setattr("modax.lake._layout.ROW_GROUP_ROWS", 1_000)
    lake = Lake(lake_dir)
    rows = fleet(40, 600, 1)
    for k in range(0, rows.num_rows, 2_000):
        lake.append("telemetry", rows.slice(k, 2_000))
    wanted = [("device_id", "==", "d17")]
    [day] = lake.layout("telemetry")
    assert (day.files, day.clustered) == (12, False)
    assert len(table_fragments("telemetry", lake, filters=wanted)[1]) == 12  # every file
    today = lake.compact("telemetry", now=DAY + timedelta(hours=1))
    assert today["partitions_clustered"] == 0  # the day is still open: only bin-packed
    assert not lake.layout("telemetry")[0].clustered
    figures = lake.compact("telemetry", now=LATER)
    assert figures["partitions_clustered"] == 1
    [day] = lake.layout("telemetry")
    assert day.clustered and day.files > 2 and day.rows == rows.num_rows
    _, files = table_fragments("telemetry", lake, filters=wanted)
    assert len(files) <= 2
    device = ds.field("device_id") == "d17"
    groups = [g for f in files for g in f.subset(device).row_groups]
    assert sum(g.num_rows for g in groups) <= 2 * 1_000  # 600 rows: one or two row groups
    con = modax.connect(lake)
    assert con.sql("select count(*) from telemetry where device_id = 'd17'").fetchall() == [(600,)]


def test_a_closed_day_is_rewritten_in_full_row_groups(lake_dir):
    devices, n = 20, 2 * ROW_GROUP_ROWS + 12_345
    i = pa.array(range(n), pa.int64())
    seconds = pc.divide(i, devices)
    rows = pa.table(
        {
            "device_id": pc.cast(pc.remainder(i, devices), pa.string()),
            "ts": pc.add(pc.multiply(seconds, 1000), int(DAY.timestamp() * 1000)).cast(TS),
            "v": pc.cast(i, pa.float64()),
        }
    )
    lake = Lake(lake_dir)
    for half in (rows.slice(0, n // 2), rows.slice(n // 2)):
        lake.append("telemetry", half)
    assert lake.compact("telemetry", now=LATER)["partitions_clustered"] == 1
    groups = [
        pq.ParquetFile(lake_dir / "telemetry" / f).metadata.row_group(k).num_rows
        for f in lake.dataset("telemetry").files
        for k in range(pq.ParquetFile(lake_dir / "telemetry" / f).metadata.num_row_groups)
    ]
    assert groups == [ROW_GROUP_ROWS, ROW_GROUP_ROWS, 12_345]
    con = modax.connect(lake)
    assert con.sql("select count(*), sum(v) from telemetry").fetchall() == [(n, n * (n - 1) / 2)]


def test_a_held_snapshot_keeps_working_while_clustering_and_retention_run(lake_dir):
    lake = Lake(lake_dir)
    rows = fleet(6, 200, 2)
    for k in range(0, rows.num_rows, 300):
        lake.append("telemetry", rows.slice(k, 300))
    con = modax.connect(lake)
    query = "select device_id, count(*), sum(v) from telemetry group by 1 order by 1"
    before = con.sql(query).fetchall()
    assert lake.compact("telemetry", now=LATER)["partitions_clustered"] == 1
    assert con.sql(query).fetchall() == before  # old files kept for the retention window
    assert lake.retain(days=0, now=LATER) == {"telemetry": rows.num_rows}
    assert con.sql(query).fetchall() == before
    con.refresh()
    assert con.sql(query).fetchall() == []


CLUSTER = """
import sys
from datetime import UTC, datetime
from modax.lake import Lake
lake = Lake(sys.argv[1], vacuum_retention_hours=0)
lake.compact("telemetry", now=datetime(2026, 2, 1, tzinfo=UTC))
"""


@pytest.mark.parametrize("moment", ["sorting", "writing"])
def test_clustering_killed_mid_way_leaves_a_consistent_table(lake_dir, tmp_path, moment):
    lake = Lake(lake_dir)
    rows = fleet(50, 4_000, 3)
    for k in range(0, rows.num_rows, 20_000):
        lake.append("telemetry", rows.slice(k, 20_000))
    expected = results(lake)
    files = set((lake_dir / "telemetry").rglob("*.parquet"))
    spill = tmp_path / "tmp"
    spill.mkdir()
    env = os.environ | {"PYTHONPATH": os.pathsep.join(sys.path), "TMPDIR": str(spill)}
    clustering = subprocess.Popen([sys.executable, "-c", CLUSTER, str(lake_dir)], env=env)
    try:
        if moment == "writing":
            wait_for(
                lambda: set((lake_dir / "telemetry").rglob("*.parquet")) - files,
                timeout=60,
                interval=0.001,
                what="the rewrite writing its first new file",
            )
        else:
            wait_for(
                lambda: list(spill.glob("modax-sort-*")),
                timeout=60,
                interval=0.001,
                what="the rewrite's sort starting",
            )
    finally:
        clustering.send_signal(signal.SIGKILL)
        clustering.wait(timeout=30)
    after = Lake(lake_dir)
    assert after.check() == []
    assert results(after) == expected
    after.compact("telemetry", now=LATER)  # nothing half-done in the way of the next run
    assert all(p.clustered for p in after.layout("telemetry"))
    assert results(Lake(lake_dir)) == expected


def _rewrite_from(lake: Lake, table: DeltaTable) -> None:
    store = arrow_filesystem(lake.table_uri("telemetry"), lake.storage_options)
    dataset = table.to_pyarrow_dataset(filesystem=store)
    cluster_partition(table, dataset, store, DAY.date(), ["device_id", "ts"])


def _sorted(table: pa.Table) -> list[dict]:
    columns = table.select(["device_id", "ts", "seq", "v"])
    return columns.sort_by([("device_id", "ascending"), ("seq", "ascending")]).to_pylist()


def test_rows_appended_during_a_rewrite_are_kept_once(lake_dir):
    lake = Lake(lake_dir)
    rows = fleet(4, 150, 4)
    lake.append("telemetry", rows.slice(0, 200))
    lake.append("telemetry", rows.slice(200, 200))
    snapshot = lake._table("telemetry")  # what the rewrite read
    lake.append("telemetry", rows.slice(400))  # an ingester, meanwhile
    _rewrite_from(lake, snapshot)  # replaces only the files it read
    assert _sorted(lake.read("telemetry")) == _sorted(rows)


def test_two_rewrites_of_one_partition_never_duplicate_rows(lake_dir):
    lake = Lake(lake_dir)
    rows = fleet(4, 150, 5)
    for k in range(0, rows.num_rows, 200):
        lake.append("telemetry", rows.slice(k, 200))
    first, second = lake._table("telemetry"), lake._table("telemetry")
    _rewrite_from(lake, first)
    with pytest.raises(CommitFailedError):
        _rewrite_from(lake, second)  # its files were replaced meanwhile
    assert _sorted(lake.read("telemetry")) == _sorted(rows)


def test_a_rewritten_file_keeps_rows_past_the_last_millisecond_findable(lake_dir):
    lake = Lake(lake_dir)
    late = DAY + timedelta(microseconds=1_500)  # 1.5 ms: the log writes stats to the millisecond
    for when in (DAY, late):
        ts = pa.array([when], pa.timestamp("us", tz="UTC"))
        lake.append("telemetry", pa.table({"device_id": ["d1"], "ts": ts, "v": [1.0]}))
    lake.compact("telemetry", now=LATER)
    wanted = [("ts", ">=", DAY + timedelta(microseconds=1_200))]
    _, files = table_fragments("telemetry", lake, filters=wanted)
    assert sum(f.count_rows(filter=ds.field("ts") >= wanted[0][2]) for f in files) == 1
