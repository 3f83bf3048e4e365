"""Data-driven remaining-life models: features, condition normalisation, regressors, health."""

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

from modax.models.datasets.cmapss import (
    INFORMATIVE_SENSORS,
    SETTINGS,
    load_cmapss,
    write_synthetic_cmapss,
)
from modax.models.wear import (
    ConditionNormalizer,
    DegradationOnset,
    HealthIndex,
    QuantileRULRegressor,
    RULRegressor,
    WindowFeatures,
    default_booster,
    evaluate_rul,
    make_model,
    piecewise_linear_rul,
    run_to_failure_rul,
)


@pytest.fixture(autouse=True)
def one_thread():
    with threadpool_limits(1):  # OpenMP spin-waits badly on a busy shared machine
        yield


@pytest.fixture(scope="module")
def six(tmp_path_factory):
    path = write_synthetic_cmapss(tmp_path_factory.mktemp("six"), "FD002", n_train=30, seed=1)
    return load_cmapss(path, "FD002")


def _reference_features(frame, sensors, *, window, long_window, spans, baseline):
    """Plain pandas, one unit and one statistic at a time: the twin of WindowFeatures."""
    rows = []
    for _, unit in frame.sort_values(["unit", "cycle"]).groupby("unit"):
        for i in range(len(unit)):
            history = unit.iloc[: i + 1]
            row = []
            for s in sensors:
                x = history[s].to_numpy()

                def slope(w, x=x):
                    tail = x[-w:]
                    if len(tail) < 2:
                        return 0.0
                    return float(np.polyfit(np.arange(len(tail)), tail, 1)[0])

                row += [x[-1], x[-window:].mean(), slope(window), slope(long_window)]
                row += [pd.Series(x).ewm(span=span).mean().iloc[-1] for span in spans]
                row += [x.mean(), x[-min(window, 10) :].mean() - x[:baseline].mean()]
            rows.append([*row, float(history["cycle"].iloc[-1])])
    return np.array(rows)


def test_window_features_match_a_plain_reference_twin():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "unit": np.repeat([3, 1, 2], [7, 12, 1]),
            "cycle": np.r_[1:8, 1:13, 1],
            "a": rng.normal(size=20),
            "b": rng.normal(size=20).cumsum(),
        }
    )
    feats = WindowFeatures(["a", "b"], window=4, long_window=6, spans=(3,), baseline=5)
    shuffled = frame.sample(frac=1.0, random_state=1)
    got = feats.fit_transform(shuffled)
    assert got.shape == (20, feats.n_features_out_) == (20, 2 * 7 + 1)
    ordered = shuffled.sort_values(["unit", "cycle"]).index
    expected = _reference_features(
        frame, ["a", "b"], window=4, long_window=6, spans=(3,), baseline=5
    )
    np.testing.assert_allclose(
        pd.DataFrame(got, index=shuffled.index).loc[ordered], expected, atol=1e-9
    )


def test_window_features_are_causal():
    frame = pd.DataFrame({"unit": 1, "cycle": range(1, 51), "s": np.linspace(0, 1, 50)})
    feats = WindowFeatures(["s"]).fit(frame)
    changed = frame.assign(s=np.r_[frame["s"][:30], np.full(20, 99.0)])
    np.testing.assert_array_equal(feats.transform(frame)[:30], feats.transform(changed)[:30])


def test_window_features_name_bad_input():
    with pytest.raises(ValueError, match="missing column"):
        WindowFeatures(["nope"]).fit(pd.DataFrame({"unit": [1], "cycle": [1]}))
    with pytest.raises(ValueError, match="sensors"):
        WindowFeatures().fit(pd.DataFrame({"unit": [1], "cycle": [1]}))


def test_condition_normalizer_finds_six_conditions_and_removes_them(six):
    norm = ConditionNormalizer(settings=SETTINGS, sensors=INFORMATIVE_SENSORS).fit(six.train)
    assert norm.n_conditions_ == 6
    raw = six.train[list(INFORMATIVE_SENSORS)]
    normalised = norm.transform(six.train)[list(INFORMATIVE_SENSORS)]
    # raw spread is dominated by the operating condition; after normalisation it is unit scale
    assert (raw.std() > 5).all()
    np.testing.assert_allclose(normalised.std(), 1.0, atol=0.05)
    labels = norm.predict_condition(six.train)
    assert len(np.unique(labels)) == 6
    # rows at the same operating point share one label
    point = six.train[list(SETTINGS)].round(0).astype(str).agg("/".join, axis=1)
    assert pd.crosstab(point, labels).gt(0).sum(axis=1).eq(1).all()


def test_condition_normalizer_sees_one_condition_in_noise():
    rng = np.random.default_rng(2)
    frame = pd.DataFrame(rng.normal(0, 0.003, size=(3000, 3)), columns=list(SETTINGS))
    frame["s2"] = rng.normal(640, 0.5, 3000)
    norm = ConditionNormalizer(settings=SETTINGS, sensors=["s2"]).fit(frame)
    assert norm.n_conditions_ == 1


def test_targets():
    assert run_to_failure_rul([7, 7, 7, 9], [1, 2, 3, 1]).tolist() == [2, 1, 0, 0]
    assert piecewise_linear_rul([10, 300], cap=125).tolist() == [10.0, 125.0]
    assert piecewise_linear_rul([300], cap=None).tolist() == [300.0]


def test_regressor_learns_wear_across_six_conditions(six):
    model = make_model("gbm", INFORMATIVE_SENSORS, settings=SETTINGS, random_state=0)
    model.set_params(estimator=default_booster(max_iter=150, learning_rate=0.1))
    scores = evaluate_rul(model.fit(six.train, six.train["rul"]), six.test, six.rul)
    truth = np.minimum(six.rul, 125)
    naive = np.sqrt(np.mean((truth - truth.mean()) ** 2))
    assert scores["rmse"] < 0.5 * naive
    assert scores["rmse_unclipped"] >= scores["rmse"] - 1e-9
    predictions = model.predict(six.test)
    assert predictions.min() >= 0 and predictions.max() <= 125
    # without per-condition normalisation the conditions drown the wear
    blind = clone(model).set_params(settings=())
    blind_scores = evaluate_rul(blind.fit(six.train, six.train["rul"]), six.test, six.rul)
    assert blind_scores["rmse"] > 1.5 * scores["rmse"]


def test_regressor_is_a_scikit_learn_estimator(six):
    from sklearn.linear_model import Ridge

    model = RULRegressor(WindowFeatures(INFORMATIVE_SENSORS), settings=SETTINGS, estimator=Ridge())
    twin = clone(model)
    assert twin.get_params()["settings"] == SETTINGS
    assert "features__window" in twin.get_params(deep=True)
    twin.fit(six.train, six.train["rul"])
    assert twin.estimator_ is not model.estimator
    assert -1 < twin.score(six.train, np.minimum(six.train["rul"], 125)) <= 1
    with pytest.raises(ValueError, match="y: expected"):
        clone(model).fit(six.train, [1.0, 2.0])
    with pytest.raises(ValueError, match="≥ 0"):
        clone(model).fit(six.train, -six.train["rul"])


def test_quantile_intervals_are_ordered_and_calibrated_on_held_out_units(six):
    model = QuantileRULRegressor(
        WindowFeatures(INFORMATIVE_SENSORS),
        settings=SETTINGS,
        estimator=default_booster(max_iter=60, learning_rate=0.15),
        quantiles=(0.9, 0.1, 0.5),
        random_state=0,
    ).fit(six.train, six.train["rul"])
    bands = model.predict_quantiles(six.test)
    assert bands.shape == (len(six.test), 3)
    assert (bands[:, 1] <= bands[:, 2]).all() and (bands[:, 2] <= bands[:, 0]).all()
    np.testing.assert_allclose(model.predict(six.test), bands[:, 2])
    assert model.offsets_.shape == (3,) and np.abs(model.offsets_).max() > 0
    last = six.test.groupby("unit").cumcount(ascending=False).to_numpy() == 0
    truth = np.minimum(six.rul, 125)
    ends = bands[last]
    inside = (truth >= ends[:, 1]) & (truth <= ends[:, 0])
    assert 0.5 <= inside.mean() <= 1.0  # nominal 80 % on 30 test engines
    uncalibrated = clone(model).set_params(calibration=0.0).fit(six.train, six.train["rul"])
    assert (uncalibrated.offsets_ == 0).all()
    with pytest.raises(ValueError, match="quantiles"):
        clone(model).set_params(quantiles=(0.5, 1.2)).fit(six.train, six.train["rul"])
    with pytest.raises(ValueError, match="calibration"):
        clone(model).set_params(calibration=1.0).fit(six.train, six.train["rul"])


def test_health_index_falls_from_one_to_zero_and_onset_precedes_failure(six):
    health = HealthIndex(INFORMATIVE_SENSORS, settings=SETTINGS).fit(six.train, six.train["rul"])
    frame = six.train.assign(health=health.predict(six.train))
    ends = frame.groupby("unit")["health"].agg(
        early=lambda h: h.iloc[10:40].mean(), late=lambda h: h.iloc[-5:].mean()
    )
    assert (ends["early"] > 0.8).mean() > 0.9
    assert (ends["late"] < 0.3).mean() > 0.9
    raw = HealthIndex(INFORMATIVE_SENSORS, settings=SETTINGS, span=1)
    frame["health"] = raw.fit(six.train, six.train["rul"]).predict(six.train)
    found = DegradationOnset(baseline=30).fit(frame).detect(frame)
    life = frame.groupby("unit")["cycle"].max().to_numpy()
    assert found["alarm"].notna().all()
    assert (found["onset"] <= found["alarm"]).all()
    assert (found["alarm"] < life).all() and (found["alarm"] > 30).all()
    assert 40 < np.median(life - found["alarm"]) < 200  # cycles of warning before failure


def test_onset_raises_no_alarm_on_a_healthy_unit():
    rng = np.random.default_rng(5)
    frames = [
        pd.DataFrame({"unit": u, "cycle": np.arange(300), "health": 1 + rng.normal(0, 0.05, 300)})
        for u in range(20)
    ]
    healthy = pd.concat(frames)
    found = DegradationOnset().fit(healthy).detect(healthy)
    assert found["alarm"].isna().mean() >= 0.9
    with pytest.raises(ValueError, match="missing column"):
        DegradationOnset().fit(healthy.drop(columns="health"))


def _small(name, seed, **params):
    model = make_model(name, INFORMATIVE_SENSORS, settings=SETTINGS, random_state=seed)
    return model.set_params(**params)


def _fit_quietly(model, data):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(data.train, data.train["rul"])


def test_mlp_learns_and_is_seeded(six):
    small = {"estimator__mlpregressor__max_iter": 10}
    model = _fit_quietly(_small("mlp", 0, **small), six)
    truth = np.minimum(six.rul, 125)
    naive = np.sqrt(np.mean((truth - truth.mean()) ** 2))
    assert evaluate_rul(model, six.test, six.rul)["rmse"] < 0.6 * naive
    again = _fit_quietly(_small("mlp", 0, **small), six)
    other = _fit_quietly(_small("mlp", 1, **small), six)
    np.testing.assert_array_equal(model.predict(six.test), again.predict(six.test))
    assert not np.array_equal(model.predict(six.test), other.predict(six.test))


def test_ensemble_averages_its_members(six):
    small = {"estimator__gbm__max_iter": 30, "estimator__mlp__mlpregressor__max_iter": 10}
    model = _fit_quietly(_small("ensemble", 0, **small), six)
    matrix = model.transform_features(six.test)
    members = [member.predict(matrix) for member in model.estimator_.estimators_]
    expected = np.clip(np.mean(members, axis=0), 0, 125)
    np.testing.assert_allclose(model.predict(six.test), expected)
