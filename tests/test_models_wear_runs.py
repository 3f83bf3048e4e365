"""Remaining life on simulated run-to-failure fleets: training data from the twin's ground truth."""

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import simulator
from modax.models.rul_metrics import rmse
from modax.models.wear import RULRegressor, StressWearModel, WindowFeatures, default_booster
from modax.models.wear.evaluate import evaluate_sim_rul
from modax.models.wear.runs import RUL_SENSORS, rul_windows


@pytest.fixture(scope="module")
def runs():
    return [
        simulator.Fleet(n_devices=4, seed=seed, scenario="run-to-failure").run(2 * 3600)
        for seed in (2, 3)
    ]


@pytest.fixture(scope="module")
def fleets(runs):
    return [rul_windows(run.telemetry, run.remaining_life) for run in runs]


def test_each_life_is_a_unit_counting_down(fleets):
    train, _ = fleets
    assert train["unit"].nunique() > train["device_id"].nunique()  # replaced motors: new lives
    for _, life in train.groupby("unit"):
        assert life["cycle"].tolist() == list(range(1, len(life) + 1))
        assert (np.diff(life["rul_s"]) < 0).all()
        assert (np.diff(life["damage"]) >= 0).all()


def test_learned_model_beats_the_stress_baseline_on_another_fleet(fleets):
    train, test = fleets
    features = WindowFeatures(RUL_SENSORS, window=10, long_window=30, spans=(5, 20), baseline=5)
    booster = default_booster(max_iter=150, learning_rate=0.1, random_state=0)
    with threadpool_limits(1):
        model = RULRegressor(features, cap=None, estimator=booster).fit(train, train["rul_s"])
        predicted = model.predict(test)
    exact = test["rul_exact"].to_numpy()
    truth = test["rul_s"].to_numpy()[exact]
    learned = rmse(truth, predicted[exact])
    naive = float(np.std(truth))
    acceleration = simulator.Scenario.load("run-to-failure").wear_acceleration
    stress = StressWearModel(nominal_life_h=10_000 / acceleration, device_col="unit")
    baseline = rmse(truth, 3600 * stress.fit(test).predict(test)[exact])
    assert learned < 0.6 * naive
    assert learned < baseline


def test_missing_truth_column_is_named(fleets):
    train, _ = fleets
    with pytest.raises(ValueError, match="rul_exact"):
        rul_windows(train, train.drop(columns="rul_exact"))


def test_sim_rul_report_for_modax_eval_sim(runs):
    with threadpool_limits(1):
        report = evaluate_sim_rul(runs[0], seeds=range(1))
    assert report["unit"] == "min" and report["n_test_lives"] > 0
    assert set(report["models"]) == {"modax-stress", "gbm-window", "gbm", "gbm-quantile"}
    assert 0 < report["models"]["gbm-quantile"]["coverage"] <= 1
    assert report["models"]["gbm-quantile"]["width"] > 0
    for scores in report["models"].values():
        assert scores["rmse"] > 0 and scores["rmse"] == scores["rmse_unclipped"]
    assert report["models"]["gbm"]["rmse_std"] >= 0
    assert report["best"] == min(report["models"], key=lambda n: report["models"][n]["rmse"])
    assert report["best"] != "modax-stress"
