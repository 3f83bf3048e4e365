"""Anomaly detectors on simulator data: 1 Hz labelled series and `modax eval sim`."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from modax.cli import app
from modax.models.anomaly import LevelShiftDetector, device_series, run_skab
from modax.schema import TELEMETRY_CHANNELS, TELEMETRY_SCHEMA

START = datetime(2026, 1, 1, tzinfo=UTC)


def telemetry(device: str, seconds: int, current: np.ndarray) -> pa.Table:
    """10 Hz readings of one device with one motor and one temperature sensor."""
    n = seconds * 10
    columns: dict[str, object] = {
        "device_id": [device] * n,
        "seq": list(range(n)),
        "timestamp": [0] * n,
        "ts": [START + timedelta(milliseconds=100 * i) for i in range(n)],
        "received_at": [START] * n,
        "date": [START.date()] * n,
    }
    for channel in TELEMETRY_CHANNELS:
        columns[channel] = [None] * n
    columns["current_1"] = np.repeat(current, 10)
    columns["temp_1"] = [40.0] * n
    for axis, value in (("vib_x", 0.1), ("vib_y", 0.1), ("vib_z", 9.8), ("vib_mag", 9.8)):
        columns[axis] = [value] * n
    return pa.table(columns, schema=TELEMETRY_SCHEMA)


def test_device_series_averages_seconds_and_labels_by_majority() -> None:
    current = np.random.default_rng(0).normal(4.0, 0.05, 120)
    table = pa.concat_tables([telemetry("b", 120, current), telemetry("a", 120, current)])
    labels = np.zeros(table.num_rows, dtype=bool)
    labels[1200 + 600 : 1200 + 604] = True  # 4 of 10 readings in second 60 of device "a"
    labels[1200 + 700 : 1200 + 900] = True  # seconds 70..89 of device "a"
    fault = np.where(labels, "overload", None)
    series = device_series(table, labels, fault)
    assert [s.name for s in series] == ["a", "b"]
    a = series[0]
    assert list(a.data.columns) == ["current_1", "vib_x", "vib_y", "vib_z", "vib_mag", "temp_1"]
    assert a.data.shape == (120, 6)
    np.testing.assert_allclose(a.data["current_1"].to_numpy(), current)
    assert np.flatnonzero(a.anomaly).tolist() == list(range(70, 90))
    assert np.flatnonzero(a.changepoint).tolist() == [70, 90]
    assert not series[1].anomaly.any()
    assert set(a.kinds[70:90]) == {"overload"} and set(a.kinds[:70]) == {None}
    assert set(series[1].kinds) == {None}
    with pytest.raises(ValueError, match="3 labels for 2400 telemetry rows"):
        device_series(table, labels[:3])


def test_protocol_on_device_series_finds_an_injected_overload() -> None:
    rng = np.random.default_rng(1)
    current = rng.normal(4.0, 0.05, 600)
    current[400:500] += 2.0
    labels = np.zeros(6000, dtype=bool)
    labels[4000:5000] = True
    series = device_series(
        telemetry("m1", 600, current), labels, np.where(labels, "overload", None)
    )
    figures = run_skab(LevelShiftDetector(window=10, min_duration=5), series, train_rows=300)
    assert figures["recall_overload"] == 1.0
    assert figures["f1"] > 0.85 and figures["far"] < 15 and figures["event_recall"] == 1.0
    assert figures["series_skipped"] == 0


def test_cli_eval_sim_on_a_small_fleet() -> None:
    runner = CliRunner()
    result = runner.invoke(
        app,
        ["eval", "sim", "--devices", "2", "--duration", "420", "--train-s", "120", "--no-track",
         "-d", "level-shift", "--format", "json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["scenario"] == "mixed-faults" and report["best"] == "level-shift"
    figures = report["detectors"]["level-shift"]
    assert figures["series"] + figures["series_skipped"] == 2
    result = runner.invoke(app, ["eval", "sim", "--scenario", "nowhere"])
    assert result.exit_code == 1 and "unknown scenario 'nowhere'" in result.stderr
