"""The live remaining-life scorer and the models fitted on simulated run-to-failure history."""

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import skops.io as sio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from streaming import assert_split_equals_one_piece
from threadpoolctl import threadpool_limits

import modax.models.wear
import simulator
from modax.lake import Lake
from modax.models.wear import (
    QuantileRULRegressor,
    RemainingLifeScorer,
    StressWearModel,
    fit_remaining_life,
    rul_windows,
)
from modax.models.wear.sim import fit_windows
from modax.schema import REMAINING_LIFE_ESTIMATES_SCHEMA


@pytest.fixture(scope="module")
def run():
    return simulator.Fleet(n_devices=6, seed=2, scenario="run-to-failure").run(2400)


@pytest.fixture(scope="module")
def frame(run):
    return rul_windows(run.telemetry, run.remaining_life)


@pytest.fixture(scope="module")
def quantile(frame):
    with threadpool_limits(1):
        return fit_windows(frame, "gbm-quantile", random_state=0)


@pytest.fixture(scope="module")
def stream(run):
    """Three devices' first 12 minutes in time order, as the broker delivers them."""
    telemetry = run.telemetry.filter(
        pa.compute.is_in(run.telemetry["device_id"], pa.array(["sim-0000", "sim-0001", "sim-0002"]))
    )
    start = telemetry["ts"][0].value
    telemetry = telemetry.filter(
        pa.compute.less(telemetry["ts"], pa.scalar(start + 720_000, telemetry["ts"].type))
    )
    return telemetry.sort_by([("ts", "ascending"), ("device_id", "ascending")])


def test_the_scorer_and_the_fit_are_public():
    assert {"RemainingLifeScorer", "fit_remaining_life", "SIM_MODELS"} <= set(
        modax.models.wear.__all__
    )


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_scorer_streams_in_any_split_like_one_piece(quantile, stream, data):
    def finish(scorer, parts):
        return pa.concat_tables(parts).sort_by([("device_id", "ascending"), ("ts", "ascending")])

    rows = assert_split_equals_one_piece(
        lambda: RemainingLifeScorer(quantile, name="rul-sim", version="1"),
        lambda scorer, batch: scorer.update(batch),
        finish,
        lambda lo, hi: stream.slice(lo, hi - lo),
        stream.num_rows,
        data,
        max_batches=40,
    )
    assert rows.schema == REMAINING_LIFE_ESTIMATES_SCHEMA
    assert rows.num_rows == 3 * 11  # windows 0..10 closed by a later reading, per device
    assert set(rows["model"].to_pylist()) == {"rul-sim"} and all(rows["advisory"].to_pylist())


def test_estimates_lie_inside_their_interval(quantile, run):
    rows = RemainingLifeScorer(quantile, name="rul-sim", version="1").update(run.telemetry)
    low, rul, high = (rows[c].to_numpy() for c in ("rul_low_h", "rul_h", "rul_high_h"))
    assert rows.num_rows > 6 * 30
    assert (low <= rul).all() and (rul <= high).all() and (high > low).mean() > 0.9
    assert rows["rul_cap_h"].null_count == rows.num_rows  # uncapped model


@pytest.mark.parametrize("model", ["quantile", "stress"])
def test_a_warm_up_leaves_the_scorer_as_it_was(model, quantile, frame, stream):
    estimator = quantile if model == "quantile" else fit_windows(frame, "modax-stress")
    warmed = RemainingLifeScorer(estimator, name="rul-sim", version="1")
    warmed.warm_up()
    cold = RemainingLifeScorer(estimator, name="rul-sim", version="1")
    assert warmed.update(stream).equals(cold.update(stream))


def test_a_windowed_estimate_matches_the_model_on_the_device_history(quantile, run):
    device = run.telemetry.filter(pa.compute.equal(run.telemetry["device_id"], "sim-0003"))
    rows = RemainingLifeScorer(quantile, name="rul-sim", version="1").update(device)
    windows = rul_windows(device, run.remaining_life)
    # the scorer's windows whose truth exists (the motor running) in the device's first life
    life = windows[windows["unit"] == windows["unit"].iloc[0]].head(40)
    expected = quantile.predict(life)
    scored = rows.to_pandas().set_index("ts")["rul_h"]
    ends = life["window_start"] + pd.Timedelta(seconds=60)
    np.testing.assert_allclose(scored.loc[ends.to_numpy()].to_numpy()[:30], expected[:30])


def test_estimates_at_the_cap_carry_it(frame, run):
    with threadpool_limits(1):
        capped = fit_windows(frame, "gbm-quantile", random_state=0, cap_h=0.4)
    rows = RemainingLifeScorer(capped, name="rul-sim", version="2").update(run.telemetry)
    rul, high = rows["rul_h"].to_numpy(), rows["rul_high_h"].to_numpy()
    assert (rows["rul_cap_h"].to_numpy() == 0.4).all()
    assert (rul <= 0.4).all() and (high <= 0.4).all() and (rul == 0.4).any()


def test_stress_model_carries_accumulated_hours_across_batches(frame, run):
    stress = fit_windows(frame, "modax-stress")
    assert isinstance(stress, StressWearModel)
    whole = RemainingLifeScorer(stress, name="stress", version="1").update(run.telemetry)
    cut = run.telemetry.num_rows // 2
    scorer = RemainingLifeScorer(stress, name="stress", version="1")
    halves = pa.concat_tables(
        [scorer.update(run.telemetry.slice(0, cut)), scorer.update(run.telemetry.slice(cut))]
    )
    key = [("device_id", "ascending"), ("ts", "ascending")]
    assert halves.sort_by(key).equals(whole.sort_by(key))
    first = whole.filter(pa.compute.equal(whole["device_id"], "sim-0000"))["rul_h"].to_numpy()
    assert first[-1] < first[0]  # wear accumulates: the remaining life falls
    assert (first % 1 != 0).any()  # fractions of an hour: simulated lives last about one


def test_missing_telemetry_columns_are_named(quantile, run):
    scorer = RemainingLifeScorer(quantile, name="rul-sim", version="7")
    assert "vib_mag" in scorer.features and "temp_2" in scorer.features
    with pytest.raises(ValueError, match=r"rul-sim v7 .*vib_mag, temp_2"):
        scorer.update(run.telemetry.drop_columns(["vib_mag", "temp_2"]))
    with pytest.raises(TypeError, match="rul-sim v7"):
        RemainingLifeScorer(object(), name="rul-sim", version="7")


@pytest.mark.parametrize("name", ["gbm-quantile", "gbm", "modax-stress"])
def test_each_model_survives_a_skops_round_trip(frame, quantile, run, name, tmp_path):
    with threadpool_limits(1):
        model = quantile if name == "gbm-quantile" else fit_windows(frame, name, random_state=0)
    path = tmp_path / "model.skops"
    sio.dump(model, path)
    loaded = sio.load(path, trusted=sio.get_untrusted_types(file=path))
    assert all(
        t.startswith(("modax.", "sklearn.", "numpy.")) for t in sio.get_untrusted_types(file=path)
    )
    want = RemainingLifeScorer(model, name=name, version="1").update(run.telemetry)
    got = RemainingLifeScorer(loaded, name=name, version="1").update(run.telemetry)
    assert got.equals(want)


def test_fit_remaining_life_learns_from_a_lake(run, lake_dir):
    lake = Lake(lake_dir)
    with pytest.raises(ValueError, match="no telemetry table"):
        fit_remaining_life(lake)
    for table in ("telemetry", "remaining_life"):
        lake.append(table, run.tables()[table])
    devices = ["sim-0000", "sim-0001", "sim-0002", "sim-0003"]
    with threadpool_limits(1):
        model = fit_remaining_life(lake, devices=devices)
    assert isinstance(model, QuantileRULRegressor)
    start = pd.Timestamp(run.telemetry["ts"][0].as_py())
    with pytest.raises(ValueError, match="start: need a tz-aware"):
        fit_remaining_life(lake, start=start.tz_localize(None).to_pydatetime())
    with pytest.raises(ValueError, match="no complete window"):
        fit_remaining_life(lake, devices=devices, end=start.to_pydatetime())
    with pytest.raises(ValueError, match="model: 'nope'"):
        fit_remaining_life(lake, model="nope")


def test_calibrated_interval_covers_lives_of_another_fleet():
    """Fitted on one simulated fleet, the 80 % interval covers ~80 % of another fleet's truths.

    The uncalibrated quantiles cover about half: switching calibration off fails this test.
    """
    train, test = (
        rul_windows(run.telemetry, run.remaining_life)
        for run in (
            simulator.Fleet(n_devices=12, seed=seed, scenario="run-to-failure").run(3 * 3600)
            for seed in (7, 1007)
        )
    )
    exact = test["rul_exact"].to_numpy()
    truth = test["rul_s"].to_numpy()[exact] / 3600.0
    coverage = {}
    with threadpool_limits(1):
        for calibration in (0.3, 0.0):
            model = fit_windows(train, "gbm-quantile", calibration=calibration)
            bands = model.predict_quantiles(test)[exact]
            assert (bands[:, 0] <= bands[:, 1]).all() and (bands[:, 1] <= bands[:, 2]).all()
            inside = (truth >= bands[:, 0]) & (truth <= bands[:, 2])
            coverage[calibration] = inside.mean()
    assert exact.sum() > 300 and test.loc[exact, "unit"].nunique() >= 15
    assert 0.75 <= coverage[0.3] <= 0.95
    assert coverage[0.0] < 0.7
