"""Delta tables: atomic appends, date partitions, time travel, compaction, retention."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest

from modax.config import ConfigError
from modax.lake import Lake, LakeError


def readings(start: datetime, n: int, value: float = 1.0) -> pa.Table:
    ts = [start + timedelta(hours=i) for i in range(n)]
    return pa.table(
        {"ts": pa.array(ts, pa.timestamp("ms", tz="UTC")), "value": [value + i for i in range(n)]}
    )


def test_append_creates_a_date_partitioned_table(lake_dir):
    lake = Lake(lake_dir)
    assert not lake.exists("telemetry")
    lake.append("telemetry", readings(datetime(2026, 3, 1, 22, tzinfo=UTC), 4))
    assert lake.tables() == ["telemetry"]
    dates = lake.read("telemetry")["date"].to_pylist()
    assert sorted({d.isoformat() for d in dates}) == ["2026-03-01", "2026-03-02"]
    assert sorted(p.name for p in (lake_dir / "telemetry").glob("date=*")) == [
        "date=2026-03-01",
        "date=2026-03-02",
    ]


def test_empty_append_writes_nothing(lake_dir):
    lake = Lake(lake_dir)
    assert lake.append("telemetry", readings(datetime(2026, 1, 1, tzinfo=UTC), 0)) is None
    assert not lake.exists("telemetry")


def test_table_without_time_column_is_refused(lake_dir):
    with pytest.raises(LakeError, match="date"):
        Lake(lake_dir).append("x", pa.table({"v": [1]}))


def test_time_travel_reads_an_earlier_version(lake_dir):
    lake = Lake(lake_dir)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    v0 = lake.append("t", readings(start, 2))
    lake.append("t", readings(start, 3, value=10))
    assert lake.read("t").num_rows == 5
    assert lake.read("t", version=v0).num_rows == 2
    assert len(lake.history("t")) == 2


def test_a_snapshots_dataset_is_kept_until_the_table_changes(lake_dir):
    """A dataset costs in proportion to the table's files to build (0.25 s at 2,500): reads of
    an unchanged table share one, and a commit by any writer gives the next read a new one. A
    writer that only appends after reading (an ingester after its resume) does not keep a past
    snapshot's dataset (the file metadata its scans loaded) for the rest of its life."""
    lake, other_writer = Lake(lake_dir), Lake(lake_dir)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    lake.append("t", readings(start, 2))
    first = lake.dataset("t")
    assert lake.dataset("t") is first
    other_writer.append("t", readings(start, 3, value=10))
    assert lake.dataset("t") is not first
    assert lake.read("t").num_rows == 5
    lake.append("t", readings(start, 1, value=20))
    assert "t" not in lake._datasets
    lake.compact("t")
    assert len(lake.dataset("t").files) == 1


def test_a_long_lived_lake_renews_its_table_handle(lake_dir, monkeypatch):
    """An ingester appends for weeks through one Lake: the cached Delta handle is replaced after
    HANDLE_RENEW_VERSIONS commits (a handle that follows every commit grows by ~0.15 MB each),
    and reads and writes go on across the renewal."""
    monkeypatch.setattr("modax.lake._delta.HANDLE_RENEW_VERSIONS", 3)
    lake = Lake(lake_dir)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    lake.append("t", readings(start, 1))
    first = lake._handles["t"]
    handles = {id(first)}
    for i in range(1, 8):
        lake.append("t", readings(start + timedelta(days=i), 1, value=i))
        handles.add(id(lake._handles["t"]))
    assert len(handles) >= 3
    assert sorted(lake.read("t")["value"].to_pylist()) == [1.0, *range(1, 8)]


def test_compact_keeps_rows_and_reduces_files(lake_dir):
    lake = Lake(lake_dir)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for i in range(5):
        lake.append("t", readings(start, 2, value=i))
    before = sorted(lake.read("t")["value"].to_pylist())
    metrics = lake.compact("t")
    assert (metrics["files_removed"], metrics["files_added"], metrics["files_deleted"]) == (5, 1, 0)
    assert sorted(lake.read("t")["value"].to_pylist()) == before
    assert len(list((lake_dir / "t").rglob("*.parquet"))) == 6  # replaced files kept 7 days
    assert len(lake.vacuum("t", retention_hours=0)) == 5
    assert len(list((lake_dir / "t").rglob("*.parquet"))) == 1
    assert sorted(lake.read("t")["value"].to_pylist()) == before


def test_vacuum_keeps_replaced_files_for_the_configured_window(lake_dir, monkeypatch):
    assert Lake(lake_dir).vacuum_retention_hours == 168
    monkeypatch.setenv("MODAX_VACUUM_RETENTION_H", "0")
    lake = Lake(lake_dir)
    assert lake.vacuum_retention_hours == 0
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for i in range(3):
        lake.append("t", readings(start, 2, value=i))
    assert lake.compact("t")["files_deleted"] == 3
    assert Lake(lake_dir, vacuum_retention_hours=24).vacuum_retention_hours == 24
    with pytest.raises(ConfigError, match="vacuum_retention_hours=-1: must be a whole number"):
        Lake(lake_dir, vacuum_retention_hours=-1)


def test_retention_deletes_only_old_dates(lake_dir):
    lake = Lake(lake_dir)
    now = datetime(2026, 6, 30, 12, tzinfo=UTC)
    lake.append("t", readings(now - timedelta(days=10), 1))
    lake.append("t", readings(now - timedelta(days=1), 1))
    assert lake.retain(days=3, now=now) == {"t": 1}
    assert [d.isoformat() for d in lake.read("t")["date"].to_pylist()] == ["2026-06-29"]
    assert (lake_dir / "t" / "date=2026-06-20").exists()  # for readers, until the window ends
    lake.retain(days=3, now=now, retention_hours=0)
    assert not list((lake_dir / "t" / "date=2026-06-20").glob("*.parquet"))


def test_concurrent_appends_lose_nothing(lake_dir):
    lake = Lake(lake_dir)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    lake.append("t", readings(start, 1, value=-1))
    errors = []

    def writer(k: int) -> None:
        try:
            for i in range(3):
                Lake(lake_dir).append("t", readings(start, 1, value=k * 100 + i))
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert lake.read("t").num_rows == 1 + 4 * 3
