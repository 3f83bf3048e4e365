"""Anomaly detectors: the scikit-learn contract, detection of known faults, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from modax.models.anomaly import (
    DETECTORS,
    IsolationForestDetector,
    LevelShiftDetector,
    LOFDetector,
    ModaxBaseline,
    OneClassSVMDetector,
    PCADetector,
    RollingFeatures,
    StreamingDetector,
    make_detector,
    min_duration_filter,
)
from modax.models.anomaly._features import rolling_mean, rolling_std

# Row-wise synthetic machine data: 3 correlated channels, then a level shift on channel 2.
RNG = np.random.default_rng(42)
LATENT = RNG.normal(size=(900, 1))
NORMAL = np.hstack([LATENT, 0.8 * LATENT, RNG.normal(size=(900, 1))]) + 0.2 * RNG.normal(
    size=(900, 3)
)
TRAIN, HEALTHY = NORMAL[:600], NORMAL[600:]
FAULTY = HEALTHY + np.array([0.0, 0.0, 6.0])


def all_detectors() -> list:
    return [make_detector(name, random_state=0) for name in DETECTORS if name != "modax-baseline"]


@pytest.mark.parametrize("detector", all_detectors(), ids=lambda d: type(d).__name__)
def test_contract_clone_params_and_pipeline(detector) -> None:
    params = detector.get_params()
    twin = clone(detector)
    assert twin.get_params() == params
    assert not hasattr(twin, "threshold_")
    pipe = make_pipeline(FunctionTransformer(lambda rows: rows * 2.0), detector)
    pipe.fit(TRAIN)
    alarms = pipe.predict(FAULTY)
    assert set(np.unique(alarms)) <= {0, 1}
    assert pipe.score_samples(FAULTY).shape == (len(FAULTY),)


@pytest.mark.parametrize("detector", all_detectors(), ids=lambda d: type(d).__name__)
def test_every_detector_flags_a_level_shift_more_than_healthy_data(detector) -> None:
    detector.fit(TRAIN)
    healthy = detector.predict(HEALTHY).mean()
    faulty = detector.predict(FAULTY)[60:].mean()  # past the longest window
    assert faulty > 2 * healthy
    if isinstance(detector, IsolationForestDetector):
        # Known limit: a forest's path lengths saturate outside the training range.
        assert faulty > healthy + 0.1
    else:
        assert faulty > 0.8
        assert faulty > healthy + 0.5


@pytest.mark.parametrize("detector", all_detectors(), ids=lambda d: type(d).__name__)
def test_scoring_does_not_change_the_fitted_model(detector) -> None:
    detector.fit(TRAIN)
    before = detector.score_samples(HEALTHY)
    detector.predict(FAULTY)
    np.testing.assert_array_equal(detector.score_samples(HEALTHY), before)


def test_set_params_changes_behaviour() -> None:
    det = PCADetector().fit(TRAIN)
    loose = clone(det).set_params(margin=100.0).fit(TRAIN)
    assert det.predict(FAULTY).sum() > loose.predict(FAULTY).sum()


def test_dataframe_input_remembers_feature_names() -> None:
    frame = pd.DataFrame(TRAIN, columns=["a", "b", "c"])
    det = LevelShiftDetector().fit(frame)
    assert det.feature_names_in_.tolist() == ["a", "b", "c"]
    assert det.fit(TRAIN).n_features_in_ == 3
    assert not hasattr(det, "feature_names_in_")


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (np.array([[1.0, np.nan, 0.0]]), r"X\[0, 1\] is nan"),
        (np.zeros((5, 2)), "X has 2 features, but PCADetector is expecting 3 features as input"),
        (np.zeros((0, 3)), "X has no rows"),
        (np.zeros((2, 2, 2)), "X must be a 2-D"),
    ],
)
def test_bad_input_names_the_problem(rows, message) -> None:
    det = PCADetector().fit(TRAIN)
    with pytest.raises(ValueError, match=message):
        det.predict(rows)


def test_min_duration_filter_drops_short_runs() -> None:
    assert min_duration_filter([1, 1, 0, 1, 1, 1, 0, 1], 3).tolist() == [0, 0, 0, 1, 1, 1, 0, 0]
    assert min_duration_filter([1, 0, 1], 1).tolist() == [1, 0, 1]


def test_rolling_features_match_pandas() -> None:
    frame = pd.DataFrame(NORMAL[:50])
    np.testing.assert_allclose(rolling_mean(NORMAL[:50], 7), frame.rolling(7, 1).mean())
    np.testing.assert_allclose(rolling_std(NORMAL[:50], 7), frame.rolling(7, 1).std(ddof=0))
    features = RollingFeatures(window=7, stats=("mean", "std", "absdiff")).fit_transform(NORMAL)
    assert features.shape == (900, 9)
    with pytest.raises(ValueError, match="stats: unknown"):
        RollingFeatures(stats=("median",)).fit(NORMAL)


def test_pca_limits_hold_on_fresh_normal_data() -> None:
    # 99 % limits: roughly 1 % of new normal rows may exceed each.
    rng = np.random.default_rng(7)
    mix = rng.normal(size=(4, 4))
    fresh_train, fresh_test = rng.normal(size=(4000, 4)) @ mix, rng.normal(size=(4000, 4)) @ mix
    for statistic in ("t2", "q"):
        det = PCADetector(n_components=2, statistic=statistic).fit(fresh_train)
        assert 0.003 < det.predict(fresh_test).mean() < 0.03
    t2, q = det.t2_q(fresh_test[:3])
    assert t2.shape == q.shape == (3,)


def test_pca_rejects_unknown_statistic() -> None:
    with pytest.raises(ValueError, match="statistic must be one of"):
        PCADetector(statistic="spe").fit(TRAIN)


def test_level_shift_discounts_drifting_channels() -> None:
    rng = np.random.default_rng(3)
    t = np.arange(800.0)
    drift = 0.01 * t + 0.05 * rng.normal(size=800)  # a slow thermal ramp
    noise = rng.normal(size=800)  # independent noise around a level
    X = np.column_stack([drift, noise])
    det = LevelShiftDetector(window=20).fit(X[:400])
    assert det.drift_index_[0] > 10 * det.drift_index_[1]
    assert (
        det.predict(X[400:]).sum()
        < det.set_params(discount=0.0).fit(X[:400]).predict(X[400:]).sum()
    )


def test_level_shift_needs_enough_training_rows() -> None:
    with pytest.raises(ValueError, match="needs at least 60 training rows"):
        LevelShiftDetector(window=20).fit(TRAIN[:50])
    with pytest.raises(ValueError, match="stats: unknown"):
        LevelShiftDetector(stats=("median",)).fit(TRAIN)


def test_streaming_partial_fit_follows_slow_drift_but_not_a_fault() -> None:
    det = StreamingDetector(window=5, memory=100, threshold=4.0, min_duration=1).fit(TRAIN)
    drifted = HEALTHY + 3.0  # a new operating level, reached slowly
    for step in np.linspace(0.0, 3.0, 30):
        det.partial_fit(HEALTHY[:60] + step)
    assert det.predict(drifted).mean() < 0.05
    frozen = StreamingDetector(window=5, memory=100, threshold=4.0, min_duration=1).fit(TRAIN)
    assert frozen.predict(drifted).mean() > 0.5
    faulty = drifted + np.array([0.0, 0.0, 6.0])
    det.partial_fit(faulty)  # a fault does not become the new normal
    assert det.predict(faulty)[10:].mean() > 0.9


def test_window_models_calibrate_threshold_on_training_quantile() -> None:
    for cls in (IsolationForestDetector, LOFDetector, OneClassSVMDetector):
        det = cls(window=10, quantile=0.95).fit(TRAIN)
        share = (det.score_samples(TRAIN) > det.threshold_).mean()
        assert share == pytest.approx(0.05, abs=0.01)
        wider = clone(det).set_params(margin=2.0).fit(TRAIN)
        assert wider.threshold_ > det.threshold_


def modax_rows(currents, vib=(1.0, 1.2, 1.1), temp=40.0) -> pd.DataFrame:
    rows = [
        {
            "current_1": c1,
            "current_2": c2,
            "vib_x": vib[0],
            "vib_y": vib[1],
            "vib_z": vib[2],
            "vib_mag": float(np.linalg.norm(vib)),
            "temp_1": temp,
        }
        for c1, c2 in currents
    ]
    return pd.DataFrame(rows)


def baseline() -> ModaxBaseline:
    return ModaxBaseline(current=("current_1", "current_2"), temperature=("temp_1",))


def test_modax_baseline_faithful_rules() -> None:
    det = baseline().fit(modax_rows([(4.0, 4.1)] * 30))
    assert det.score_samples(modax_rows([(4.0, 4.1)])).tolist() == [0.0]
    # absolute current limit 12 A -> 0.9; imbalance above 2 A -> 0.6
    assert det.score_samples(modax_rows([(12.5, 12.4)]))[0] >= 0.9
    assert det.score_samples(modax_rows([(4.0, 6.5)]))[0] >= 0.6
    # temperature: elevated (>60) 0.5, high (>70) 0.8
    assert det.score_samples(modax_rows([(4.0, 4.1)], temp=65.0))[0] >= 0.5
    assert det.score_samples(modax_rows([(4.0, 4.1)], temp=75.0))[0] >= 0.8
    # vibration axis imbalance (max > 2 × min) -> 0.5; magnitude above 10 m/s² -> 0.9
    assert det.score_samples(modax_rows([(4.0, 4.1)], vib=(1.0, 3.0, 1.0)))[0] >= 0.5
    assert det.score_samples(modax_rows([(4.0, 4.1)], vib=(7.0, 7.0, 7.0)))[0] >= 0.9


def test_modax_baseline_z_score_against_ewma_baseline() -> None:
    det = baseline().fit(modax_rows([(4.0, 4.0)] * 5))
    # first value sets mean 4.0 and std 0.5; each equal update shrinks std by alpha = 0.9
    mean, std = det.baseline_.stats["current_0"]
    assert mean == pytest.approx(4.0)
    assert std == pytest.approx(0.5 * 0.9**4)
    value = 4.0 + 4 * std  # z = 4 > 3 -> score 4 / 6
    assert det.score_samples(modax_rows([(value, value)]))[0] == pytest.approx(4 / 6)


def test_modax_baseline_names_a_missing_column() -> None:
    with pytest.raises(ValueError, match="column 'current_3' is not in X"):
        ModaxBaseline(current=("current_3",), temperature=("temp_1",)).fit(modax_rows([(4.0, 4.0)]))


def test_registry_names_unknown_detectors() -> None:
    with pytest.raises(ValueError, match="unknown detector 'magic'; known: modax-baseline"):
        make_detector("magic")
    assert make_detector("iforest", random_state=3).random_state == 3


def test_mset_remembers_extremes_and_estimates_normal_rows_closely() -> None:
    from modax.models.anomaly import MSETDetector

    det = MSETDetector(memory_size=40).fit(TRAIN)
    assert det.memory_.shape == (40, 3)
    z = det.scaler_.transform(TRAIN)
    for j in range(3):  # each feature's minimum and maximum state is in memory
        assert np.isclose(det.memory_[:, j].min(), z[:, j].min())
        assert np.isclose(det.memory_[:, j].max(), z[:, j].max())
    assert np.median(det.score_samples(HEALTHY)) < 0.2 * np.median(det.score_samples(FAULTY))


def test_public_surface_is_pinned():
    import modax.models.anomaly

    assert sorted(modax.models.anomaly.__all__) == sorted(
        [
            "DETECTORS",
            "FAR_BUDGET",
            "SELECTION_GRIDS",
            "SIM_PARAMS",
            "SKAB_PARAMS",
            "SKAB_TRAIN_ROWS",
            "Detector",
            "DetectorResult",
            "DetectorSpec",
            "IsolationForestDetector",
            "LOFDetector",
            "LabelledSeries",
            "LevelShiftDetector",
            "LofoFold",
            "LofoResult",
            "MSETDetector",
            "ModaxBaseline",
            "OneClassSVMDetector",
            "PCADetector",
            "RollingFeatures",
            "Selection",
            "StreamingDetector",
            "WindowAutoencoder",
            "device_series",
            "evaluate_skab",
            "grid_points",
            "leave_one_file_out",
            "make_detector",
            "min_duration_filter",
            "protocol_alarms",
            "run_skab",
            "select_params",
        ]
    )
