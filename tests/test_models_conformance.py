"""Every detector and remaining-life model against scikit-learn's own estimator checks.

``parametrize_with_checks`` runs scikit-learn's API and legacy checks on one small, fast instance
of each class. The checks that cannot hold for these estimators are listed, each with its reason,
as expected failures, strictly: a listed check that starts passing fails the suite, so the list
stays exact. What those checks would have asked of the remaining-life models (which read named
DataFrame columns) is asked again below on DataFrames.
"""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.exceptions import NotFittedError
from sklearn.utils.estimator_checks import parametrize_with_checks
from threadpoolctl import threadpool_limits

from modax.models.anomaly import (
    DETECTORS,
    IsolationForestDetector,
    LevelShiftDetector,
    LOFDetector,
    ModaxBaseline,
    MSETDetector,
    OneClassSVMDetector,
    PCADetector,
    StreamingDetector,
    WindowAutoencoder,
)
from modax.models.wear import (
    MODELS,
    STRESS_COLUMNS,
    QuantileRULRegressor,
    RULRegressor,
    StressWearModel,
    WindowFeatures,
)


@pytest.fixture(autouse=True)
def one_thread():
    with threadpool_limits(1):  # OpenMP spin-waits badly on a busy shared machine
        yield


def _small_booster() -> HistGradientBoostingRegressor:
    return HistGradientBoostingRegressor(max_iter=5, min_samples_leaf=2)


def _features() -> WindowFeatures:
    return WindowFeatures(("s0", "s1"), window=3, long_window=None, spans=(), baseline=None)


DETECTOR_INSTANCES = [
    # only the current rule, on a column every check's data has; a low z threshold makes it fire
    ModaxBaseline(current=(0,), vibration=(), magnitude=None, temperature=(), z_threshold=0.5),
    PCADetector(),
    MSETDetector(memory_size=10),
    IsolationForestDetector(window=3, n_estimators=10, random_state=0),
    LOFDetector(window=3, n_neighbors=5),
    OneClassSVMDetector(window=3),
    WindowAutoencoder(window=3, hidden=(4,), max_iter=20, min_duration=1, random_state=0),
    StreamingDetector(window=3.0, memory=20.0, min_duration=1),
    LevelShiftDetector(window=3, min_duration=1),
]
WEAR_INSTANCES = [
    StressWearModel(),
    RULRegressor(_features(), estimator=_small_booster(), random_state=0),
    QuantileRULRegressor(_features(), estimator=_small_booster(), random_state=0),
]

ONE_D = "a 1-D X is read as one channel over time (a single sensor's series), deliberately"
TIME_ORDER = (
    "rows are samples in time order and a row's score depends on the rows before it in the "
    "same call (trailing windows or a running baseline), so reordering or subsetting rows "
    "changes scores"
)
FRAME = (
    "X is a pandas DataFrame whose columns are read by name (sensors, unit, time; the stress "
    "columns): a bare array has none, so the model rejects it with a TypeError naming the type"
)
ROW_WISE = {"check_fit1d": ONE_D, "check_fit2d_predict1d": ONE_D}
WINDOWED = {
    **ROW_WISE,
    "check_methods_sample_order_invariance": TIME_ORDER,
    "check_methods_subset_invariance": TIME_ORDER,
}
DETECTOR_FAILURES: dict[type, dict[str, str]] = {
    PCADetector: ROW_WISE,
    MSETDetector: ROW_WISE,
    ModaxBaseline: WINDOWED,
    IsolationForestDetector: WINDOWED,
    LOFDetector: WINDOWED,
    OneClassSVMDetector: WINDOWED,
    WindowAutoencoder: WINDOWED,
    StreamingDetector: WINDOWED,
    LevelShiftDetector: WINDOWED,
}
_FRAME_CHECKS = [
    "check_complex_data",
    "check_dict_unchanged",
    "check_dont_overwrite_parameters",
    "check_dtype_object",
    "check_estimator_sparse_array",
    "check_estimator_sparse_matrix",
    "check_estimators_dtypes",
    "check_estimators_empty_data_messages",
    "check_estimators_fit_returns_self",
    "check_estimators_nan_inf",
    "check_estimators_overwrite_params",
    "check_estimators_pickle",
    "check_f_contiguous_array_estimator",
    "check_fit1d",
    "check_fit2d_1feature",
    "check_fit2d_1sample",
    "check_fit2d_predict1d",
    "check_fit_check_is_fitted",
    "check_fit_idempotent",
    "check_fit_score_takes_y",
    "check_methods_sample_order_invariance",
    "check_methods_subset_invariance",
    "check_n_features_in",
    "check_n_features_in_after_fitting",
    "check_pipeline_consistency",
    "check_positive_only_tag_during_fit",
    "check_readonly_memmap_input",
    "check_regressor_data_not_an_array",
    "check_regressors_int",
    "check_regressors_no_decision_function",
    "check_regressors_train",
    "check_supervised_y_2d",
]
IGNORES_Y = "y is ignored: the stress model's parameters are set, not learned from a target"
LEARNS = {**dict.fromkeys([*_FRAME_CHECKS, "check_requires_y_none"], FRAME)}
WEAR_FAILURES: dict[type, dict[str, str]] = {
    StressWearModel: {
        **dict.fromkeys([*_FRAME_CHECKS, "check_estimator_sparse_tag"], FRAME),
        "check_supervised_y_no_nan": IGNORES_Y,
    },
    RULRegressor: LEARNS,
    QuantileRULRegressor: LEARNS,
}


def expected_failures(estimator: object) -> dict[str, str]:
    """The checks ``estimator`` cannot pass, each with its reason."""
    return {**DETECTOR_FAILURES, **WEAR_FAILURES}[type(estimator)]


def test_every_detector_and_remaining_life_model_is_checked():
    registered = {type(spec.build(0)) for spec in DETECTORS.values()}
    registered |= {cls for _, cls, _ in MODELS.values()} | {StressWearModel}
    checked = {type(e) for e in DETECTOR_INSTANCES + WEAR_INSTANCES}
    assert registered == checked == set(DETECTOR_FAILURES) | set(WEAR_FAILURES)


@parametrize_with_checks(
    DETECTOR_INSTANCES + WEAR_INSTANCES,
    expected_failed_checks=expected_failures,
    xfail_strict=True,
)
def test_scikit_learn_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence on the checks' tiny random data
        check(estimator)


def _stress_frame(rng: np.random.Generator, devices: int = 3, rows: int = 12) -> pd.DataFrame:
    frame = pd.DataFrame(
        rng.uniform(0.0, 1.0, (devices * rows, len(STRESS_COLUMNS))) * [12, 14, 6, 2, 70, 90, 1],
        columns=list(STRESS_COLUMNS),
    )
    frame["window_s"] *= 3600.0
    frame["device_id"] = np.repeat([f"m{d}" for d in range(devices)], rows)
    return frame


def _unit_frame(rng: np.random.Generator, units: int = 5, cycles: int = 30) -> pd.DataFrame:
    unit = np.repeat(np.arange(1, units + 1), cycles)
    cycle = np.tile(np.arange(1, cycles + 1), units)
    wear = cycle / cycles
    frame = pd.DataFrame({"unit": unit, "cycle": cycle})
    frame["s0"] = wear + 0.1 * rng.normal(size=len(frame))
    frame["s1"] = -2.0 * wear + 0.1 * rng.normal(size=len(frame))
    frame["rul"] = cycles - cycle
    return frame


def _frame_for(model: object, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    if isinstance(model, StressWearModel):
        frame = _stress_frame(rng)
        return frame, np.zeros(len(frame))
    frame = _unit_frame(rng)
    return frame, frame["rul"].to_numpy(dtype=float)


@pytest.mark.parametrize("model", WEAR_INSTANCES, ids=lambda m: type(m).__name__)
def test_remaining_life_models_keep_the_contract_on_frames(model):
    """What the expected failures above would have checked, asked on the models' own input."""
    X, y = _frame_for(model)
    fresh = clone(model)
    with pytest.raises(NotFittedError):
        fresh.predict(X)
    params = fresh.get_params(deep=True)
    assert fresh.fit(X, y) is fresh  # fit returns self ...
    assert pickle.dumps(fresh.get_params(deep=True)) == pickle.dumps(params)  # ... params kept
    assert not [k for k in vars(clone(fresh)) if k.endswith("_")]  # clone forgets the fit
    predicted = fresh.predict(X)
    assert predicted.shape == (len(X),) and np.isfinite(predicted).all()
    np.testing.assert_array_equal(clone(model).fit(X, y).predict(X), predicted)  # idempotent
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(fresh)).predict(X), predicted)
    frozen = X.copy()
    fresh.predict(X)
    pd.testing.assert_frame_equal(X, frozen)  # input left as it was


@pytest.mark.parametrize("model", WEAR_INSTANCES[1:], ids=lambda m: type(m).__name__)
def test_remaining_life_of_a_row_depends_on_its_unit_history_not_the_row_order(model):
    X, y = _frame_for(model)
    fitted = clone(model).fit(X, y)
    want = fitted.predict(X)
    order = np.random.default_rng(1).permutation(len(X))
    np.testing.assert_allclose(fitted.predict(X.iloc[order]), want[order], rtol=1e-12)
    two_units = X["unit"].isin([2, 4]).to_numpy()
    np.testing.assert_allclose(fitted.predict(X[two_units]), want[two_units], rtol=1e-12)


@pytest.mark.parametrize("model", WEAR_INSTANCES[1:], ids=lambda m: type(m).__name__)
@pytest.mark.parametrize("bad", [np.nan, np.inf, -1.0])
def test_remaining_life_models_reject_an_impossible_target(model, bad):
    X, y = _frame_for(model)
    y[3] = bad
    with pytest.raises(ValueError, match="y: remaining life must be finite and ≥ 0"):
        clone(model).fit(X, y)
