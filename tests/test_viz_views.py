"""Panel components without a browser: what each view holds after real data arrives."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import modax
from modax.lake import Lake
from modax.models.datasets.cmapss import write_synthetic_cmapss
from modax.models.datasets.skab import find_skab
from modax.schema import TELEMETRY_CHANNELS, Advisory, Telemetry, Vibration
from modax.testing import wait_for
from modax.viz import (
    NO_SUCH_DEVICE,
    AlarmLog,
    DeviceView,
    EventFeed,
    FleetOverview,
    FleetState,
    FleetTable,
    HistoryView,
    LivePlots,
    ModelLab,
    device_page,
    device_picker,
    fleet_frame,
    run_detection,
    run_rul,
    skab_series,
    wear_history,
)
from modax.viz._jobs import JobFailedError, start_job

T0 = 1_800_000_000_000
ROOT = Path(__file__).resolve().parent.parent


def reading(device: str, ts: int, current: float = 4.0) -> Telemetry:
    return Telemetry(ts, device, [current, current], Vibration(0, 0, 9.8, 9.8), [40.0], seq=ts)


def test_overview_puts_alarms_first_and_filters() -> None:
    fleet = FleetState()
    for device in ("m1", "m2", "m3"):
        fleet.apply(reading(device, T0), received_ms=T0)
    overview = FleetOverview(fleet, table=FleetTable(fleet, min_interval_s=0.0))
    assert overview.table.value["device_id"].tolist() == ["m1", "m2", "m3"]
    fleet.apply(reading("m3", T0 + 100, current=11.0), received_ms=T0 + 100)
    overview.refresh()
    table = overview.table.value
    assert table["device_id"].tolist() == ["m3", "m1", "m2"]
    assert table.loc[0, "state"] == "alarm"
    assert table.loc[0, "current_1"] == 11.0
    assert 'href="device?id=m3"' in table.loc[0, "device"]
    assert overview.kpi["safety_alarms"].value == 1
    assert overview.kpi["devices"].value == 3
    assert FleetOverview._match_device(table, "M1")["device_id"].tolist() == ["m1"]
    assert FleetOverview._match_state(table, ["alarm"])["device_id"].tolist() == ["m3"]
    fleet.apply(reading("m4", T0 + 200), received_ms=T0 + 200)  # a new device: full rebuild
    overview.refresh()
    assert len(overview.table.value) == 4


def test_overview_pages_sorts_and_patches_only_changed_cells() -> None:
    fleet = FleetState()
    for i in range(60):
        fleet.apply(reading(f"m{i:02d}", T0, current=1.0 + i / 100), received_ms=T0)
    overview = FleetOverview(fleet, page_size=25, table=FleetTable(fleet, min_interval_s=0.0))
    assert overview.table.value["device_id"].tolist() == [f"m{i:02d}" for i in range(25)]
    assert overview.position.object.startswith("1–25 of 60 devices")
    assert overview.previous.disabled and not overview.next.disabled

    overview.next.clicks += 1
    assert overview.table.value["device_id"].iloc[0] == "m25"
    shown = overview.table.value
    fleet.apply(reading("m30", T0 + 100, current=2.5), received_ms=T0 + 100)
    overview.refresh()
    assert overview.table.value is shown  # same devices on the page: patched in place
    assert shown.loc[shown["device_id"] == "m30", "current_1"].item() == 2.5

    overview.table.sorters = [{"field": "current_1", "dir": "desc"}]
    assert overview.page == 2 and overview.table.value["device_id"].iloc[0] == "m35"
    overview.previous.clicks += 1
    assert overview.table.value["device_id"].iloc[0] == "m30"  # the fleet's highest current

    overview.search.value = "m5"
    assert overview.page == 1
    assert overview.table.value["device_id"].tolist() == [f"m5{i}" for i in range(9, -1, -1)]
    assert overview.position.object.startswith("1–10 of 10 devices")


def test_event_feed_acknowledges_the_clicked_alarm() -> None:
    log = AlarmLog()
    log.raise_alarm("m1", "overload", "safety", T0, value=12.0)
    log.raise_alarm("m2", "overtemp", "safety", T0 + 1, value=90.0)
    feed = EventFeed(log)
    assert feed.table.value["device"].str.contains("m2").tolist() == [True, False]
    assert feed.acknowledge(feed.table.value.loc[1, "alarm_id"])
    assert feed.table.value["status"].tolist() == [
        "active · unacknowledged",
        "active · acknowledged",
    ]
    assert EventFeed(log, device_id="m2").table.value["kind"].tolist() == ["overtemp"]


def telemetry_rows(device: str, start_ms: int, n: int) -> pa.Table:
    ts = start_ms + np.arange(n) * 100
    table = {
        "device_id": [device] * n,
        "seq": np.arange(n),
        "timestamp": ts,
        "ts": pa.array(ts, pa.timestamp("ms", tz="UTC")),
        "current_1": np.full(n, 4.0),
        "temp_1": np.full(n, 40.0),
    }
    return pa.table(table)


def test_device_view_history_and_wear_read_the_lake(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
    start_ms = int(start.timestamp() * 1000)
    lake.append("telemetry", telemetry_rows("m1", start_ms, 600))
    lake.append(
        "remaining_life",
        pa.table(
            {
                "device_id": ["m1"] * 3,
                "ts": pa.array(
                    [start_ms, start_ms + 1000, start_ms + 2000], pa.timestamp("ms", tz="UTC")
                ),
                "damage": [0.1, 0.2, 0.4],
                "rul_s": [7200.0, 3600.0, 1800.0],
            }
        ),
    )
    con = modax.connect(lake)
    fleet = FleetState()
    fleet.apply(reading("m1", T0, current=12.0), received_ms=T0)
    view = DeviceView(fleet, con, "m1")
    assert "alarm" in view.header.object and "overload" in view.header.object
    assert view.live.points == 1
    fleet.apply(reading("m1", T0 + 100), received_ms=T0 + 100)
    view.live.refresh()
    assert view.live.points == 2
    assert 'class="modax-points">2<' in view.live.status.object
    history = HistoryView(con, "m1")
    history.range.value = (
        start.replace(tzinfo=None),
        (start + timedelta(hours=1)).replace(tzinfo=None),
    )
    assert history.load() == 1200  # 600 readings × current_1 and temp_1
    assert wear_history(con, "m1")["rul_h"].tolist() == [2.0, 1.0, 0.5]
    assert view.wear.health.value == "60 %"


def test_wear_tab_draws_the_models_estimates_with_their_band_and_live_ones(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    start_ms = T0 - 3_600_000
    ts = [start_ms + i * 600_000 for i in range(6)]
    estimates = {
        "device_id": ["m1"] * 6,
        "ts": pa.array(ts, pa.timestamp("ms", tz="UTC")),
        "model": ["rul-sim"] * 6,
        "version": ["3"] * 6,
        "rul_h": [60.0, 58.0, 55.0, 54.0, 50.0, 48.0],
        "rul_low_h": [40.0, 39.0, 37.0, 36.0, 33.0, 31.0],
        "rul_high_h": [80.0, 78.0, 74.0, 72.0, 68.0, 66.0],
        "rul_cap_h": [1000.0] * 6,
        "advisory": [True] * 6,
    }
    lake.append("remaining_life_estimates", pa.table(estimates))
    truth = {"device_id": ["m1"] * 2, "ts": estimates["ts"][:2], "damage": [0.5, 0.6]}
    lake.append("remaining_life", pa.table(truth | {"rul_s": [50 * 3600.0, 45 * 3600.0]}))
    fleet = FleetState()
    fleet.apply(reading("m1", T0), received_ms=T0)
    wear = DeviceView(fleet, modax.connect(lake), "m1").wear
    assert wear.rul.value == "48 h (31–66)"
    assert "rul-sim v3" in wear.about.object
    life, wear_curve = wear.plot.object.values()
    band, estimate, twin = life.values()
    assert wear_curve.dframe()["damage"].tolist() == [0.5, 0.6]
    assert band.dframe()["rul_high_h"].tolist() == estimates["rul_high_h"]
    assert estimate.dframe()["rul_h"].tolist() == estimates["rul_h"]
    assert twin.dframe()["rul_h"].tolist() == [50.0, 45.0]
    fleet.apply(Advisory("m1", T0, rul_h=47.0, rul_low_h=30.0, rul_high_h=65.0, rul_cap_h=1e3))
    wear.refresh_live()
    assert wear.rul.value == "47 h (30–65)"
    estimate = wear.plot.object.values()[0].values()[1]
    assert estimate.dframe()["rul_h"].tolist()[-1] == 47.0


def test_lab_runs_a_detector_on_a_skab_file() -> None:
    [path] = [p for p in find_skab(ROOT / "data" / "skab") if p.match("valve1/1.csv")]
    run = run_detection("pca-t2q", skab_series(path), train_rows=400)
    assert 0 < run.metrics["f1"] <= 1
    assert run.metrics["series"] == 1
    assert set(run.frame.columns) == {"time", "value", "score", "alarm", "truth", "train"}
    assert run.frame["truth"].sum() > 0
    assert run.frame["train"].sum() == 400
    with pytest.raises(ValueError, match="unknown detector"):
        run_detection("nope", skab_series(path))


def test_lab_view_runs_and_reports_errors(tmp_path: Path) -> None:
    lab = ModelLab(modax.connect(tmp_path / "lake"), ROOT / "data")
    result = lab.run()
    assert result is not None
    assert "F1 (points)" in lab.metrics.value["metric"].tolist()
    lab.source.value = "lake time range"
    assert lab.run() is None
    assert "no telemetry table" in lab.status.object


def test_remaining_life_on_a_small_cmapss_like_subset(tmp_path: Path) -> None:
    write_synthetic_cmapss(tmp_path, "FD001", n_train=6, n_test=4, n_conditions=1)
    scores = run_rul("gbm-window", tmp_path, "FD001", train_units=4)
    assert {"rmse", "nasa_score"} <= set(scores)
    assert 0 < scores["rmse"] < 200


def test_session_buffers_stay_bounded() -> None:
    fleet = FleetState(ring_size=40)
    plots = LivePlots(fleet, "m1", length=50)
    for i in range(400):
        fleet.apply(reading("m1", T0 + i * 100), received_ms=T0 + i * 100)
        if i % 60 == 0:
            plots.refresh()
    plots.refresh()
    assert len(plots.buffer.data) == 50
    assert plots.buffer.data["time"].iloc[-1].value // 1_000_000 == T0 + 399 * 100
    assert plots.points < 400  # the ring dropped readings between refreshes, as designed
    log = AlarmLog(max_alarms=30)
    for i in range(100):
        log.raise_alarm(f"m{i}", "overload", "safety", i)
        log.clear(f"m{i}", "overload", i + 1)
    assert len(EventFeed(log).table.value) == 30


HOSTILE = '<img src=x onerror="alert(1)">'


def test_hostile_text_reaches_html_only_escaped(tmp_path: Path) -> None:
    escaped = "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;"
    con = modax.connect(tmp_path / "lake")
    fleet = FleetState()
    fleet.apply(reading(HOSTILE, T0), received_ms=T0)  # as if read back from the lake
    fleet.alarms.raise_alarm(HOSTILE, HOSTILE, "safety", T0)
    view = DeviceView(fleet, con, HOSTILE)
    history = HistoryView(con, HOSTILE)
    panes = {
        "header": view.header.object,
        "picker": device_picker(fleet).object,
        "event feed": EventFeed(fleet.alarms).table.value.loc[0, "device"],
        "fleet table": fleet_frame(fleet).loc[0, "device"],
    }
    history.load()
    panes["history"] = history.summary.object
    for where, text in panes.items():
        assert "<img" not in text, where
        assert escaped in text, where


def test_an_invalid_device_id_in_the_url_is_no_such_device(tmp_path: Path) -> None:
    opened = []
    title, body = device_page(FleetState(), lambda: opened.append(1), HOSTILE)
    assert title == NO_SUCH_DEVICE and NO_SUCH_DEVICE in body.object
    assert "<img" not in body.object and opened == []
    title, body = device_page(FleetState(), lambda: modax.connect(tmp_path / "lake"), "m1")
    assert title == "m1" and isinstance(body, DeviceView)
    assert device_page(FleetState(), lambda: None, "")[0] == "devices"


def test_lab_refuses_inputs_out_of_bounds_naming_the_field(tmp_path: Path) -> None:
    simulated: list[tuple] = []
    lab = ModelLab(
        modax.connect(tmp_path / "lake"),
        ROOT / "data",
        simulate=lambda *args: simulated.append(args) or [],
        scenarios=("normal",),
    )
    lab.source.value = "simulator scenario"
    lab.sim_devices.value, lab.sim_duration.value = 50, 36_000  # what a browser can send
    assert lab.run() is None
    assert "Simulated s: 36000 is outside 600 … 7200" in lab.status.object
    lab.sim_duration.value, lab.train_rows.value = 1800, 10**9
    assert lab.run() is None
    assert "Training rows" in lab.status.object
    assert simulated == []
    lab.train_rows.value = 400
    lab.source.value = "lake time range"
    lab.lake_device.value = HOSTILE
    assert lab.run() is None
    assert "Device (empty: all): not a device id" in lab.status.object
    assert "<img" not in lab.status.object
    lab.lake_device.value = ""
    end = datetime(2026, 1, 2)
    lab.lake_range.value = (end - timedelta(days=3), end)
    assert lab.run() is None
    assert "Time range (UTC): the range must be" in lab.status.object
    lab.rul_units.value = 1000
    assert lab.run_remaining_life() is None
    assert "Training units: 1000 is outside 5 … 100" in lab.status.object


def test_lab_fits_in_a_child_process_with_progress_and_can_be_cancelled(tmp_path: Path) -> None:
    write_synthetic_cmapss(tmp_path / "cmapss", "FD001", n_train=6, n_test=4, n_conditions=1)
    lab = ModelLab(modax.connect(tmp_path / "lake"), tmp_path)
    lab.rul_units.value = 5
    ticks: list[float] = []

    async def fit_while_the_loop_turns() -> object:
        run = asyncio.create_task(lab.run_remaining_life_async())
        while not run.done():  # the loop keeps turning while the child fits
            ticks.append(lab.progress.value)
            await asyncio.sleep(0.01)
        return run.result()

    scores = asyncio.run(fit_while_the_loop_turns())
    assert scores is not None, lab.status.object
    assert "rmse" in lab.rul_metrics.value["metric"].tolist()
    assert max(ticks) >= 85  # the child's last progress report reached the page
    assert not lab.busy and not lab.progress.visible and not lab.cancel_button.visible

    async def cancel_during_the_fit() -> object:
        run = asyncio.create_task(lab.run_remaining_life_async())
        await asyncio.to_thread(wait_for, lambda: lab.progress.value >= 15, 60, "the fit to start")
        process = lab.job.process
        lab.cancel()
        return await run, process

    result, process = asyncio.run(cancel_during_the_fit())
    assert result is None and "cancelled" in lab.status.object
    assert not process.is_alive() and not lab.busy and not lab.rul_button.disabled

    lab.data_dir = tmp_path / "nowhere"
    assert asyncio.run(lab.run_remaining_life_async()) is None
    assert "Cannot run:" in lab.status.object and "nowhere" in lab.status.object


def test_live_plots_show_the_recent_window_whatever_the_history_holds(tmp_path: Path) -> None:
    """A safety span an hour old (the lake's events load into the alarm log) and an hour of
    score history must not stretch the live plots' time axis: they show the recent window.
    """
    hour = 3_600_000
    fleet = FleetState()
    fleet.alarms.raise_alarm("m1", "overload", "safety", T0 - hour)
    fleet.alarms.clear("m1", "overload", T0 - hour + 60_000)
    fleet.alarms.raise_alarm("m1", "overtemp", "safety", T0 - hour / 2)  # still active
    scores = pa.table(
        {
            "device_id": ["m1"] * 61,
            "ts": pa.array([T0 - hour + i * 60_000 for i in range(61)], pa.timestamp("ms", "UTC")),
            "score": [float(i) for i in range(61)],
        }
    )
    Lake(tmp_path / "lake").append("scores", scores)
    for i in range(50):
        fleet.apply(reading("m1", T0 + i * 100), received_ms=T0 + i * 100)
    plots = LivePlots(fleet, "m1", con=modax.connect(tmp_path / "lake"), window_s=300)
    shown = [plots.buffer.data["time"], plots.scores.data["time"]]
    shown += [pd.to_datetime(plots.spans.data[c], unit="ms") for c in ("start", "end")]
    earliest = min(s.min() for s in shown if len(s))
    latest = max(s.max() for s in shown if len(s))
    assert latest - earliest <= pd.Timedelta(seconds=300)
    assert len(plots.spans.data) == 1  # the open over-temperature, clipped to the window
    assert plots.scores.data["score"].tolist()[-1] == 60.0  # the lake's newest score, in view


def test_a_lab_job_whose_process_dies_says_so_in_one_line() -> None:
    with pytest.raises(JobFailedError, match=r"the job ended without an answer \(3\)"):
        asyncio.run(start_job(os._exit, 3).wait())


def test_the_lab_registers_a_detector_of_a_lake_run_for_live_use(tmp_path: Path) -> None:
    from modax.registry import Registry

    lake = Lake(tmp_path / "lake")
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
    rows = telemetry_rows("m1", int(start.timestamp() * 1000), 1200).drop_columns(
        ["current_1", "temp_1"]
    )
    noise = np.random.default_rng(0).normal(size=(len(TELEMETRY_CHANNELS), 1200))
    for channel, values in zip(TELEMETRY_CHANNELS, noise, strict=True):
        rows = rows.append_column(channel, pa.array(10.0 + values))
    lake.append("telemetry", rows)
    lab = ModelLab(modax.connect(lake), ROOT / "data")
    lab.source.value = "lake time range"
    naive = start.replace(tzinfo=None)
    lab.lake_range.value = (naive, naive + timedelta(hours=1))
    lab.train_rows.value = 60  # of 120 one-second means
    assert asyncio.run(lab.register_async()) is None  # nothing run yet
    assert "run a detector on a lake time range first" in lab.status.object
    assert asyncio.run(lab.run_async()) is not None, lab.status.object
    assert lab.register_button.visible
    lab.register_name.value = "bad name!"
    assert asyncio.run(lab.register_async()) is None
    assert "Register as:" in lab.status.object
    lab.register_name.value = "lab-detector"
    assert asyncio.run(lab.register_async()) == "lab-detector v1", lab.status.object
    assert "modax models promote lab-detector 1" in lab.status.object
    [version] = Registry(str(lake.root)).versions("lab-detector")
    assert version.kind == "anomaly" and version.training["rows"] == 1200
