"""The MODAX stress-factor wear model: its published arithmetic, and tracking the digital twin."""

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

import simulator
from modax.models.wear import STRESS_COLUMNS, StressWearModel
from modax.models.wear.live import stress_windows

NORMAL = {
    "current_mean_a": 5.0,
    "current_max_a": 6.2,
    "vib_mean_ms2": 1.8,
    "vib_std_ms2": 0.3,
    "temp_mean_c": 45.2,
    "temp_max_c": 49.0,
    "window_s": 10.0,
}


def windows(*rows, device="m1"):
    return pd.DataFrame([{**NORMAL, **row, "device_id": device} for row in rows])


def test_normal_conditions_wear_at_the_nominal_rate():
    model = StressWearModel().fit(windows({}))
    x = windows({"window_s": 3600.0}, {"window_s": 3600.0})
    assert model.stress_factor(x).tolist() == [1.0, 1.0]
    assert model.accumulated_hours(x).tolist() == [1.0, 2.0]
    assert model.wear_level(x).tolist() == [1e-4, 2e-4]
    assert model.predict(x).tolist() == [9999.0, 9998.0]
    assert model.confidence(x)[0] == pytest.approx(0.75 - 0.2e-4)
    assert model.contributing_factors(x)[0] == ["normal operating conditions"]


@pytest.mark.parametrize(
    ("change", "factor", "reason"),
    [
        ({"current_mean_a": 10.0}, 2**1.5, "high load"),
        ({"current_max_a": 12.0}, 1.1 + 0.05 * 4, "current spikes"),
        ({"vib_mean_ms2": 5.0}, 1.3, "elevated vibration"),
        ({"vib_std_ms2": 1.5}, 1.15, "vibration variability"),
        ({"temp_max_c": 60.0, "temp_mean_c": 55.0}, 1.2, "elevated temperature"),
        ({"temp_max_c": 49.0, "temp_mean_c": 30.0}, 1.1, "temperature cycling"),
    ],
)
def test_each_stress_factor_matches_modax(change, factor, reason):
    model = StressWearModel().fit(windows({}))
    x = windows(change)
    assert model.stress_factor(x)[0] == pytest.approx(factor)
    assert reason in model.contributing_factors(x)[0]


def test_factors_multiply_and_remaining_hours_use_the_current_factor():
    model = StressWearModel().fit(windows({}))
    stressed = {"current_mean_a": 10.0, "current_max_a": 12.0, "vib_mean_ms2": 5.0}
    x = windows({"window_s": 7200.0}, {**stressed, "window_s": 3600.0})
    f = 2**1.5 * 1.3 * 1.3
    assert model.stress_factor(x)[1] == pytest.approx(f)
    assert model.accumulated_hours(x)[1] == pytest.approx(2 + f)
    assert model.predict(x)[1] == np.floor((10_000 - 2 - f) / f)


def test_devices_accumulate_separately_and_carry_prior_hours():
    model = StressWearModel(nominal_life_h=100.0).fit(windows({}))
    x = pd.concat(
        [windows({"window_s": 3600.0}, device="a"), windows({"window_s": 7200.0}, device="b")]
    )
    x = pd.concat([x, x]).reset_index(drop=True)
    assert model.accumulated_hours(x).tolist() == [1.0, 2.0, 2.0, 4.0]
    x["prior_h"] = x["device_id"].map({"a": 99.5, "b": 0.0})
    assert model.wear_level(x).tolist() == [1.0, 0.02, 1.0, 0.04]
    assert model.predict(x)[0] == 0.0


def test_parameters_are_exposed_and_clone():
    model = StressWearModel(load_threshold_a=2.0, nominal_life_h=500.0)
    twin = clone(model)
    assert twin.get_params()["load_threshold_a"] == 2.0
    assert twin.fit(windows({})).stress_factor(windows({}))[0] == pytest.approx(2.5**1.5)


def test_bad_input_names_the_column():
    model = StressWearModel()
    with pytest.raises(ValueError, match=r"missing column.*vib_std_ms2"):
        model.fit(windows({}).drop(columns="vib_std_ms2"))
    with pytest.raises(ValueError, match="temp_max_c has missing"):
        model.fit(windows({"temp_max_c": np.nan}))
    with pytest.raises(ValueError, match="window_s must be"):
        model.fit(windows({"window_s": -1.0}))
    with pytest.raises(ValueError, match="nominal_life_h"):
        StressWearModel(nominal_life_h=0).fit(windows({}))
    assert set(STRESS_COLUMNS) <= set(NORMAL)


def test_tracks_the_digital_twins_true_damage():
    fleet = simulator.Fleet(n_devices=4, seed=1, scenario="run-to-failure")
    result = fleet.run(duration_s=600)
    stress = stress_windows(result.telemetry, window_s=60)
    stress = stress[stress["last_ts"] >= stress["window_end"]]
    # the scenario wears motors faster than real time: nominal life 10 000 h / acceleration
    acceleration = simulator.Scenario.load("run-to-failure").wear_acceleration
    model = StressWearModel(nominal_life_h=10_000 / acceleration)
    stress["wear"] = model.fit(stress).accumulated_hours(stress) / model.nominal_life_h
    truth = result.remaining_life.to_pandas()
    truth["window_start"] = pd.to_datetime(truth["ts"], utc=True).dt.floor("60s")
    per_window = truth.groupby(["device_id", "window_start"]).agg(
        d0=("damage", "first"), d1=("damage", "last"), failed=("failed", "max")
    )
    joined = stress.join(per_window, on=["device_id", "window_start"], how="inner")
    assert not joined["failed"].any()  # ten minutes: nobody fails, nobody is replaced
    first = joined.groupby("device_id").first()
    last = joined.groupby("device_id").last()
    true_gain = last["d1"] - first["d0"]
    assert len(true_gain) == 4 and (true_gain > 0.02).all()
    np.testing.assert_allclose(last["wear"], true_gain, rtol=0.1)
