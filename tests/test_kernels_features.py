"""Window features: moments and slopes equal their reference twins; FFT bands obey Parseval."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from modax.kernels._reference import reference_moments, reference_slope, window_stats
from modax.kernels.features import MOMENT_FEATURES, WindowFeatures, window_features
from modax.schema import UTC_MS

T0 = 1_763_900_000_000


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from(["a", "b"]),
            st.integers(0, 5_000),
            st.one_of(st.floats(-100, 100), st.just(math.nan)),
        ),
        min_size=1,
        max_size=80,
    )
)
def test_moments_and_slope_equal_the_reference(rows):
    devices = np.array([r[0] for r in rows])
    ts = np.array([T0 + r[1] for r in rows], np.int64)
    x = np.array([r[2] for r in rows])
    got = window_features(devices, ts, {"temp_1": x}, width_ms=1000)
    for (device, start), row in got.iterrows():
        begin = start.value // 10**6
        mask = (devices == device) & (ts >= begin) & (ts < begin + 1000)
        order = np.argsort(ts[mask], kind="stable")
        xs, tw = x[mask][order], ts[mask][order]
        want = window_stats(list(xs)) | reference_moments(list(xs))
        assert row["count"] == mask.sum()
        for feature in MOMENT_FEATURES:
            g, w = row[f"temp_1_{feature}"], want[feature]
            if math.isnan(w):
                assert math.isnan(g), feature
            else:
                # float64 moments of data with a tiny spread lose digits: compare to the scale
                assert g == pytest.approx(w, rel=1e-6, abs=1e-9 * (1 + abs(want["mean"]))), feature
        slope = reference_slope(list(tw), list(xs))
        if math.isnan(slope):
            assert math.isnan(row["temp_1_slope"])
        else:
            assert row["temp_1_slope"] == pytest.approx(slope, rel=1e-6, abs=1e-6)


def test_moments_match_pandas_and_scipy_conventions():
    rng = np.random.default_rng(2)
    x = rng.gamma(2.0, 1.0, 500)
    got = window_features(np.zeros(500), np.arange(500), {"a": x}, width_ms=10_000).iloc[0]
    s = pd.Series(x)
    assert got["a_std"] == pytest.approx(s.std(), rel=1e-12)
    # pandas' skew/kurt are the bias-corrected sample versions; convert ours (population)
    n = len(x)
    g1, g2 = got["a_skew"], got["a_kurtosis"]
    assert g1 * math.sqrt(n * (n - 1)) / (n - 2) == pytest.approx(s.skew(), rel=1e-9)
    bias_corrected = ((n + 1) * g2 + 6) * (n - 1) / ((n - 2) * (n - 3))
    assert bias_corrected == pytest.approx(s.kurt(), rel=1e-9)
    assert got["a_crest"] == pytest.approx(x.max() / math.sqrt(np.mean(x * x)), rel=1e-12)


def test_band_energies_find_the_tone_and_add_up_to_the_variance():
    fs, n = 100, 200  # 100 Hz for 2 s: bands of 12.5 Hz up to the 50 Hz Nyquist frequency
    t = np.arange(n) / fs
    x = 3.0 * np.sin(2 * np.pi * 30.0 * t) + 0.5
    got = window_features(np.zeros(n), (t * 1000).astype(np.int64), {"vib_x": x}, 2000).iloc[0]
    bands = np.array([got[f"vib_x_band{b}"] for b in range(4)])
    assert bands.argmax() == 2  # 30 Hz lies in 25–37.5 Hz
    assert bands.sum() == pytest.approx(np.var(x), rel=1e-9)  # Parseval: bands sum to variance


def test_transformer_in_a_scikit_learn_pipeline_from_an_arrow_table():
    n = 600
    rng = np.random.default_rng(4)
    table = pa.table(
        {
            "device_id": ["m1"] * 300 + ["m2"] * 300,
            "ts": pa.array(T0 + np.tile(np.arange(300) * 100, 2), pa.int64()).cast(UTC_MS),
            "vib_x": rng.normal(0, 1, n),
            "temp_1": 40.0 + np.tile(np.arange(300) * 0.01, 2),
        }
    )
    features = WindowFeatures(width_ms=10_000, channels=["vib_x", "temp_1"])
    frame = features.fit_transform(table)
    assert frame.shape == (6, len(features.get_feature_names_out()))
    assert list(frame.index.get_level_values("device_id")) == ["m1"] * 3 + ["m2"] * 3
    assert frame["temp_1_slope"].to_numpy() == pytest.approx(0.1, rel=1e-9)  # 0.01 °C / 100 ms
    scaled = make_pipeline(WindowFeatures(width_ms=10_000, channels=["vib_x"]), StandardScaler())
    assert scaled.fit_transform(table.to_pandas()).shape == (6, 14)


def test_bad_input_names_the_problem():
    with pytest.raises(ValueError, match="temp_9"):
        WindowFeatures(channels=["temp_9"]).fit(pd.DataFrame({"device_id": ["a"], "ts": [0]}))
    with pytest.raises(ValueError, match="width_ms"):
        window_features(np.zeros(1), np.zeros(1), {}, width_ms=0)
