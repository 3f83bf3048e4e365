"""Maintenance that runs itself: ``modax maintain`` clusters closed days, vacuums, rolls up."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import urllib.request
from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa
import pytest

import modax
from modax.lake import Lake, Maintenance
from modax.pipeline import Pipeline
from modax.schema import TELEMETRY_CHANNELS, TELEMETRY_SCHEMA
from modax.testing import free_port, wait_for

START = datetime(2026, 1, 1, tzinfo=UTC)
CHANNELS = ("current_1", "vib_mag", "temp_1")


def telemetry(devices: int, seconds: int, seed: int = 0) -> pa.Table:
    """``devices`` devices at 10 Hz for ``seconds`` s, in arrival order."""
    n = seconds * 10
    rng = np.random.default_rng(seed)
    ts = np.repeat(int(START.timestamp() * 1000) + np.arange(n, dtype=np.int64) * 100, devices)
    rows = ts.size
    columns = {c: rng.normal(4.0, 1.0, rows) for c in TELEMETRY_CHANNELS}
    table = pa.table(
        {
            "device_id": pa.array([f"m{d}" for d in range(devices)] * n),
            "seq": pa.array(np.tile(np.arange(n), devices).reshape(devices, n).T.ravel()),
            "timestamp": pa.array(ts),
            "ts": pa.array(ts, pa.timestamp("ms", tz="UTC")),
            "received_at": pa.array(ts, pa.timestamp("ms", tz="UTC")),
            **{c: pa.array(v, from_pandas=True) for c, v in columns.items()},
        }
    )
    return table.cast(TELEMETRY_SCHEMA.remove(TELEMETRY_SCHEMA.get_field_index("date")))


def test_one_minute_rollups_equal_the_readings_they_summarise(lake_dir):
    lake = Lake(lake_dir)
    pipeline = Pipeline(lake)
    rows = telemetry(3, 300)
    for k in range(0, rows.num_rows, 1_500):
        pipeline.store(rows.slice(k, 1_500))
    pipeline.close()
    maintenance = Maintenance(lake, clock=lambda: START + timedelta(minutes=5, seconds=30))
    assert maintenance.rollup() == 3 * 3  # minutes 0-2: minute 3 ended < 2 min ago
    con = modax.connect(lake)
    stats = ", ".join(
        f"avg({c}), stddev_samp({c}), min({c}), max({c}), sqrt(avg({c} * {c}))" for c in CHANNELS
    )
    expected = con.sql(
        f"select device_id, date_trunc('minute', ts) as m, count(*), {stats} from telemetry "
        "where ts < '2026-01-01 00:03:00+00' group by all order by 1, 2"
    ).fetchall()
    columns = ", ".join(f"{c}_mean, {c}_std, {c}_min, {c}_max, {c}_rms" for c in CHANNELS)
    got = con.sql(
        f"select device_id, window_start, count, {columns} from aggregates_1min order by 1, 2"
    ).fetchall()
    assert len(got) == len(expected) == 9
    for ours, truth in zip(got, expected, strict=True):
        assert ours[:3] == truth[:3]
        assert all(
            math.isclose(a, b, rel_tol=1e-9) for a, b in zip(ours[3:], truth[3:], strict=True)
        )
    later = Maintenance(lake, clock=lambda: START + timedelta(minutes=9))
    assert later.rollup() == 3 * 2  # only minutes 3 and 4 are new
    assert later.rollup() == 0


def test_a_cycle_clusters_closed_days_and_counts_its_work(lake_dir):
    lake = Lake(lake_dir, vacuum_retention_hours=0)
    rows = telemetry(5, 60)
    for k in range(0, rows.num_rows, 500):
        lake.append("telemetry", rows.slice(k, 500))
    maintenance = Maintenance(lake)
    report = maintenance.run_once()
    assert report["telemetry"]["partitions_clustered"] == 1
    assert report["telemetry"]["files_deleted"] == 6
    [day] = lake.layout("telemetry")
    assert (day.files, day.clustered, day.rows) == (1, True, rows.num_rows)
    registry = maintenance.metrics.registry
    assert registry.get_sample_value("modax_maintain_cycles_total") == 1
    labels = {"table": "telemetry"}
    assert registry.get_sample_value("modax_maintain_partitions_clustered_total", labels) == 1
    assert registry.get_sample_value("modax_maintain_table_files", labels) == 1
    with pytest.raises(ValueError, match="interval_s=0"):
        Maintenance(lake, interval_s=0)


def _metric(url: str, name: str) -> float | None:
    try:
        with urllib.request.urlopen(f"{url}/metrics", timeout=2) as response:
            text = response.read().decode()
    except OSError:
        return None
    values = [float(line.split()[-1]) for line in text.splitlines() if line.startswith(name)]
    return values[0] if values else None


def test_modax_maintain_runs_by_itself_until_stopped(lake_dir):
    lake = Lake(lake_dir)
    rows = telemetry(4, 60)
    for k in range(0, rows.num_rows, 400):
        lake.append("telemetry", rows.slice(k, 400))
    port = free_port()
    env = os.environ | {"PYTHONPATH": os.pathsep.join(sys.path)}
    argv = [sys.executable, "-m", "modax", "maintain", "--lake", str(lake_dir)]
    argv += ["--interval-s", "0.5", "--metrics-port", str(port)]
    service = subprocess.Popen(argv, env=env, stderr=subprocess.PIPE, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: (_metric(url, "modax_maintain_cycles_total") or 0) >= 2, timeout=60)
        assert Lake(lake_dir).layout("telemetry")[0].clustered
        more = telemetry(4, 10, seed=1)
        lake.append("telemetry", more.set_column(1, "seq", pa.array(np.arange(400) + 10_000)))
        wait_for(lambda: Lake(lake_dir).layout("telemetry")[0].clustered, timeout=60)
        with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
            assert response.status == 200
    finally:
        service.send_signal(signal.SIGTERM)
        _, err = service.communicate(timeout=60)
    assert service.returncode == 0, err
    assert "maintenance stopped" in err
    assert modax.connect(lake_dir).sql("select count(*) from telemetry").fetchall() == [(2_800,)]
