"""Lake tables as Dask DataFrames on a dask.distributed cluster: same answers as DuckDB."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pytest
from distributed import Client, LocalCluster

import modax
from modax.lake import Lake
from modax.lake.dask import read_table, table_fragments
from simulator import Fleet

# Per device and hour: readings, mean current, peak vibration, hottest winding (A, m/s², °C).
DEVICE_HOURS_SQL = """
    select device_id, date_trunc('hour', ts) as hour, count(*) as readings,
           avg(current_1) as current_mean, max(vib_mag) as vib_peak, max(temp_1) as temp_max
    from telemetry group by all order by all
"""


def device_hours(frame) -> pd.DataFrame:
    """The same aggregate as DEVICE_HOURS_SQL, on a Dask DataFrame."""
    frame = frame.assign(hour=frame["ts"].dt.floor("h"))
    stats = frame.groupby(["device_id", "hour"]).agg(
        readings=("current_1", "count"),
        current_mean=("current_1", "mean"),
        vib_peak=("vib_mag", "max"),
        temp_max=("temp_1", "max"),
    )
    return stats.compute().reset_index().sort_values(["device_id", "hour"], ignore_index=True)


@pytest.fixture(scope="module")
def two_runs() -> list[pa.Table]:
    """4 devices for 30 s, twice: from 2026-02-01T23:59:45Z (spans midnight) and 2026-02-03."""
    starts = (datetime(2026, 2, 1, 23, 59, 45, tzinfo=UTC), datetime(2026, 2, 3, tzinfo=UTC))
    return [
        Fleet(n_devices=4, seed=3, scenario="mixed-faults", start=day).run(30).telemetry
        for day in starts
    ]


def fill(lake: Lake, runs: list[pa.Table]) -> None:
    """Each run written as two files per date: devices 0–1, then devices 2–3."""
    for telemetry in runs:
        for group in (["sim-0000", "sim-0001"], ["sim-0002", "sim-0003"]):
            lake.append(
                "telemetry", telemetry.filter(pc.is_in(telemetry["device_id"], pa.array(group)))
            )


@pytest.fixture(scope="module")
def cluster() -> Iterator[Client]:
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        ) as local,
        Client(local) as client,
    ):
        yield client


def assert_same(ours: pd.DataFrame, duckdb_frame: pd.DataFrame) -> None:
    assert list(ours["device_id"]) == list(duckdb_frame["device_id"])
    assert list(ours["hour"]) == list(duckdb_frame["hour"])
    assert list(ours["readings"]) == list(duckdb_frame["readings"])
    for column in ("current_mean", "vib_peak", "temp_max"):
        np.testing.assert_allclose(ours[column], duckdb_frame[column], rtol=1e-9)


def test_fleet_aggregate_on_a_cluster_equals_duckdb(
    lake_dir: Path, cluster: Client, two_runs: list[pa.Table]
):
    lake = Lake(lake_dir)
    fill(lake, two_runs)
    frame = read_table(
        "telemetry", lake, columns=["device_id", "ts", "current_1", "vib_mag", "temp_1"]
    )
    assert frame.npartitions == 6  # a file per device group and date (the first run spans 2 dates)

    ours = device_hours(frame)

    with modax.connect(lake) as con:
        expected = con.sql(DEVICE_HOURS_SQL).df()
    assert len(ours) == 4 * 3  # hours 23:00 (day 1), 00:00 (day 2), 00:00 (day 3)
    assert ours["readings"].sum() == 2 * 4 * 30 * 10
    assert_same(ours, expected)


def test_filters_skip_files_of_other_dates_and_devices(
    lake_dir: Path, cluster: Client, two_runs: list[pa.Table]
):
    lake = Lake(lake_dir)
    fill(lake, two_runs)
    device = [("device_id", "==", "sim-0003")]
    day = [("date", "==", datetime(2026, 2, 3).date())]

    assert len(table_fragments("telemetry", lake)[1]) == 6
    assert len(table_fragments("telemetry", lake, filters=device)[1]) == 3
    assert len(table_fragments("telemetry", lake, filters=device + day)[1]) == 1

    frame = read_table("telemetry", lake, filters=device + day, columns=["device_id", "ts"])
    rows = frame.compute()
    assert set(rows["device_id"]) == {"sim-0003"} and len(rows) == 30 * 10
    assert rows["ts"].min() == pd.Timestamp("2026-02-03", tz="UTC")
    expression = (ds.field("device_id") == "sim-0003") & (
        ds.field("ts") < datetime(2026, 2, 2, tzinfo=UTC)
    )
    assert len(read_table("telemetry", lake, filters=expression).compute()) == 15 * 10


def test_time_travel_and_an_empty_selection(lake_dir: Path, two_runs: list[pa.Table]):
    lake = Lake(lake_dir)
    fill(lake, two_runs)
    first = read_table("telemetry", lake, version=0).compute()
    assert sorted(set(first["device_id"])) == ["sim-0000", "sim-0001"]
    none = read_table("telemetry", lake, filters=[("device_id", "==", "nobody")])
    assert none.npartitions == 1
    empty = none.compute()
    assert empty.empty and list(empty.columns) == lake.dataset("telemetry").schema.names


def test_dask_reads_an_s3_lake_like_duckdb(s3_lake: str, cluster: Client, two_runs: list[pa.Table]):
    lake = Lake(s3_lake)
    fill(lake, two_runs)
    ours = device_hours(read_table("telemetry", s3_lake))
    with modax.connect(s3_lake) as con:
        assert_same(ours, con.sql(DEVICE_HOURS_SQL).df())
