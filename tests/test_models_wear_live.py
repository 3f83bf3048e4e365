"""Live wear per device into the lake's ``wear`` table (advisory), on simulator telemetry."""

import numpy as np
import pandas as pd
import pyarrow.compute as pc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from streaming import assert_split_equals_one_piece

import simulator
from modax.lake import Lake
from modax.models.wear.live import (
    WEAR_SCHEMA,
    StressWindows,
    WearDeriver,
    stress_windows,
    update_wear,
)
from modax.pipeline import Pipeline


@pytest.fixture(scope="module")
def telemetry():
    return simulator.Fleet(n_devices=3, seed=4, scenario="run-to-failure").run(600).telemetry


def test_wear_table_is_written_once_per_complete_window(lake_dir, telemetry):
    lake = Lake(lake_dir)
    cut = pc.min(telemetry["ts"]).as_py() + pd.Timedelta(seconds=330)
    first, second = (
        telemetry.filter(pc.less(telemetry["ts"], cut)),
        telemetry.filter(pc.greater_equal(telemetry["ts"], cut)),
    )
    lake.append("telemetry", first)
    written = update_wear(lake)
    assert written == 3 * 5  # windows 0–4 are complete, window 5 is still open
    assert update_wear(lake) == 0  # nothing new: nothing written twice
    lake.append("telemetry", second)
    assert update_wear(lake) == 3 * 4  # windows 5–8; window 9 has no later reading
    wear = lake.read("wear").to_pandas()
    assert wear.groupby("device_id")["window_start"].nunique().eq(9).all()
    assert not wear.duplicated(["device_id", "window_start"]).any()
    assert set(WEAR_SCHEMA.names) <= set(wear.columns)

    # carried over across the two updates = computed in one go
    one_go = Lake(lake_dir.parent / "one-go")
    one_go.append("telemetry", telemetry)
    update_wear(one_go)
    both = wear.merge(
        one_go.read("wear").to_pandas(), on=["device_id", "window_start"], suffixes=("", "_one")
    )
    assert len(both) == len(wear)
    np.testing.assert_allclose(both["accumulated_h"], both["accumulated_h_one"])
    growing = wear.sort_values("window_start").groupby("device_id")["accumulated_h"]
    assert growing.apply(lambda s: s.is_monotonic_increasing).all()
    assert wear["remaining_h"].between(0, 10_000).all()
    assert (wear["model"] == "modax-stress").all()


def test_no_telemetry_writes_nothing(lake_dir):
    assert update_wear(Lake(lake_dir)) == 0


def test_stress_windows_remove_gravity_and_count_operating_time(telemetry):
    stress = stress_windows(telemetry, window_s=60)
    assert stress["vib_mean_ms2"].lt(3.0).mean() > 0.5  # raw vib_mag is ~9.8 m/s² (gravity)
    assert stress["window_s"].between(0, 60).all()
    assert stress_windows(telemetry.slice(0, 0)).empty  # no readings, no windows
    with pytest.raises(ValueError, match=r"missing column.*vib_x"):
        stress_windows(telemetry.drop_columns(["vib_x"]))
    with pytest.raises(ValueError, match="window_s"):
        stress_windows(telemetry, window_s=0)


def test_pipeline_deriver_writes_what_the_batch_update_writes(lake_dir, telemetry):
    live = Lake(lake_dir / "live")
    pipeline = Pipeline(live, derivers=[WearDeriver(live)])
    start = pc.min(telemetry["ts"]).as_py()
    for lo, hi in ((0, 100), (100, 250), (250, 600)):
        ts = telemetry["ts"]
        in_chunk = pc.and_(
            pc.greater_equal(ts, start + pd.Timedelta(seconds=lo)),
            pc.less(ts, start + pd.Timedelta(seconds=hi)),
        )
        pipeline.store(telemetry=telemetry.filter(in_chunk))
    pipeline.close()
    batch = Lake(lake_dir / "batch")
    batch.append("telemetry", telemetry)
    update_wear(batch)
    keys = ["device_id", "window_start"]
    got = live.read("wear").to_pandas().sort_values(keys).reset_index(drop=True)
    want = batch.read("wear").to_pandas().sort_values(keys).reset_index(drop=True)
    assert len(got) == len(want) == 3 * 9
    pd.testing.assert_frame_equal(got[keys], want[keys])
    np.testing.assert_allclose(got["accumulated_h"], want["accumulated_h"])
    np.testing.assert_allclose(got["remaining_h"], want["remaining_h"])


def _pandas_stress_windows(telemetry, window_s):
    """The stress windows written out with pandas groupby: the reference for the kernel's."""
    frame = telemetry.to_pandas()
    currents = frame[[f"current_{i}" for i in range(1, 5)]].to_numpy(dtype=float)
    temps = frame[[f"temp_{i}" for i in range(1, 5)]].to_numpy(dtype=float)
    frame["window_start"] = frame["ts"].dt.floor(pd.Timedelta(seconds=window_s))
    frame["c_sum"], frame["c_n"] = np.nansum(currents, axis=1), np.isfinite(currents).sum(axis=1)
    frame["c_max"] = np.where(np.isfinite(currents), currents, -np.inf).max(axis=1)
    frame["t_sum"], frame["t_n"] = np.nansum(temps, axis=1), np.isfinite(temps).sum(axis=1)
    frame["t_max"] = np.where(np.isfinite(temps), temps, -np.inf).max(axis=1)
    frame["running"] = (np.nan_to_num(currents, nan=0.0) > 0.5).any(axis=1)
    groups = frame.groupby(["device_id", "window_start"], sort=True)
    sums = groups[["c_sum", "c_n", "t_sum", "t_n"]].sum()
    out = groups.size().rename("n_samples").to_frame()
    out["current_mean_a"] = sums["c_sum"] / sums["c_n"]
    out["current_max_a"] = groups["c_max"].max()
    out["vib_mean_ms2"] = np.sqrt(groups[["vib_x", "vib_y", "vib_z"]].var(ddof=0).sum(axis=1))
    out["vib_std_ms2"] = groups["vib_mag"].std(ddof=0)
    out["temp_mean_c"] = sums["t_sum"] / sums["t_n"]
    out["temp_max_c"] = groups["t_max"].max()
    out["window_s"] = window_s * groups["running"].mean()
    return out.reset_index().replace([np.inf, -np.inf], np.nan)


def test_stress_windows_equal_a_pandas_groupby_in_any_row_order():
    faulty = simulator.Fleet(n_devices=6, seed=9, scenario="mixed-faults").run(300).telemetry
    shuffled = faulty.take(np.random.default_rng(0).permutation(faulty.num_rows))
    got = stress_windows(shuffled, window_s=30)
    want = _pandas_stress_windows(faulty, window_s=30)
    assert got["n_samples"].sum() == faulty.num_rows  # every reading in one window
    assert len(got) == len(want) == 6 * 10
    for column in want.columns.drop(["device_id", "window_start"]):
        np.testing.assert_allclose(got[column], want[column], rtol=1e-9, atol=1e-12, err_msg=column)
    assert got["window_s"].gt(0).any() and got["current_max_a"].isna().sum() == 0


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_stress_windows_stream_in_any_split_like_one_piece(telemetry, data):
    keys = ["device_id", "window_start"]

    def finish(stream: StressWindows, parts: list[pd.DataFrame]) -> tuple[pd.DataFrame, int]:
        streamed = pd.concat([*parts, stream.flush()], ignore_index=True)
        return streamed.sort_values(keys).reset_index(drop=True), stream.late_count

    streamed, late_count = assert_split_equals_one_piece(
        lambda: StressWindows(window_s=60),
        lambda stream, batch: stream.process(batch),
        finish,
        lambda lo, hi: telemetry.slice(lo, hi - lo),
        telemetry.num_rows,
        data,
        max_batches=50,
    )
    whole = stress_windows(telemetry, window_s=60).drop(columns="last_ts")
    pd.testing.assert_frame_equal(streamed[whole.columns], whole)
    assert late_count == 0
