"""Streaming window aggregation: equal to pandas, to its reference twin, and across any split."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from streaming import assert_split_equals_one_piece

from modax.kernels._reference import ReferenceAggregator, reference_rolling
from modax.kernels.aggregate import STATS, Rolling, WindowAggregator, table_name
from modax.schema import TELEMETRY_CHANNELS, UTC_MS

CHANNELS = ["a", "b"]
T0 = 1_763_900_000_000


def windows_frame(tables: list[pa.Table]) -> pd.DataFrame:
    table = pa.concat_tables(tables)
    i = table.column_names.index("window_start")
    frame = table.set_column(i, "window_start", table["window_start"].cast(pa.int64())).to_pandas()
    key = "device" if "device" in frame else "device_id"
    return frame.sort_values([key, "window_start"]).reset_index(drop=True)


def assert_windows_equal(got: pd.DataFrame, want: pd.DataFrame, rel: float = 1e-9) -> None:
    assert len(got) == len(want)
    for column in want.columns:
        g = got[column].to_numpy(dtype=float)
        w = want[column].to_numpy(dtype=float)
        assert np.array_equal(np.isnan(g), np.isnan(w)), column
        ok = ~np.isnan(w)
        np.testing.assert_allclose(g[ok], w[ok], rtol=rel, atol=1e-9, err_msg=column)


def random_stream(seed: int, n: int, devices: int, jitter_ms: int) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, devices, n).astype(np.int32)
    ts = T0 + np.sort(rng.integers(0, n * 40, n)) + rng.integers(-jitter_ms, jitter_ms + 1, n)
    a = rng.normal(5.0, 1.0, n)
    b = rng.normal(-2.0, 0.5, n).astype(np.float32).astype(np.float64)
    a[rng.random(n) < 0.05] = np.nan
    return codes, ts.astype(np.int64), a, b


def test_one_batch_equals_pandas_groupby():
    codes, ts, a, b = random_stream(1, 20_000, 30, jitter_ms=0)
    agg = WindowAggregator(width_ms=1000, allowed_lateness_ms=0, channels=CHANNELS)
    got = windows_frame([agg.process_arrays(codes, ts, {"a": a, "b": b}), agg.flush_arrays()])
    assert agg.late_count == 0

    frame = pd.DataFrame({"device": codes, "window_start": ts // 1000 * 1000, "a": a, "b": b})
    frame["a2"], frame["b2"] = frame["a"] ** 2, frame["b"] ** 2
    grouped = frame.groupby(["device", "window_start"])
    want = grouped.size().rename("count").reset_index()
    for c in CHANNELS:
        want[f"{c}_mean"] = grouped[c].mean().to_numpy()
        want[f"{c}_std"] = grouped[c].std().to_numpy()
        want[f"{c}_min"] = grouped[c].min().to_numpy()
        want[f"{c}_max"] = grouped[c].max().to_numpy()
        want[f"{c}_rms"] = np.sqrt(grouped[f"{c}2"].mean().to_numpy())
        want[f"{c}_p2p"] = want[f"{c}_max"] - want[f"{c}_min"]
    assert_windows_equal(got, want)


def test_numerically_stable_on_large_offsets():
    # values near 1e9 with spread 1e-3: naive sum-of-squares would lose every digit of the std
    ts = T0 + np.arange(1000, dtype=np.int64) * 10
    x = 1e9 + np.random.default_rng(3).normal(0, 1e-3, 1000)
    agg = WindowAggregator(width_ms=10_000, allowed_lateness_ms=0, channels=CHANNELS)
    got = agg.process_arrays(np.zeros(1000, np.int32), ts, [x, -x])
    got = pa.concat_tables([got, agg.flush_arrays()])
    assert got["a_std"][0].as_py() == pytest.approx(np.std(x, ddof=1), rel=1e-6)
    assert got["b_mean"][0].as_py() == pytest.approx(-np.mean(x), rel=1e-15)


stream = st.lists(
    st.tuples(
        st.integers(0, 3),  # device
        st.integers(0, 6_000),  # ms
        st.one_of(st.floats(-50, 50, allow_nan=False), st.just(math.nan)),
        st.floats(0, 1e4, allow_nan=False),
    ),
    min_size=1,
    max_size=200,
)


@settings(max_examples=150, deadline=None)
@given(
    rows=stream,
    lateness=st.sampled_from([0, 500, 1000, 2500]),
    width=st.sampled_from([250, 1000, 1500]),
    order=st.sampled_from(["arrival", "by device", "by device and time"]),
    data=st.data(),
)
def test_any_split_equals_one_piece_and_the_reference(rows, lateness, width, order, data):
    if order == "by device":  # runs of one device, time in drawn order: the sorted path's exits
        rows = sorted(rows, key=lambda r: r[0])
    elif order == "by device and time":  # a lake scan: the sorted path end to end
        rows = sorted(rows, key=lambda r: (r[0], r[1]))
    codes = np.array([r[0] for r in rows], np.int32)
    ts = np.array([T0 + r[1] for r in rows], np.int64)
    a = np.array([r[2] for r in rows])
    b = np.array([r[3] for r in rows])

    reference = ReferenceAggregator(width, lateness, CHANNELS)
    want_rows = reference.process(
        (int(codes[i]), int(ts[i]), (a[i], b[i])) for i in range(len(rows))
    )
    want_rows += reference.flush()
    want = pd.DataFrame(want_rows)

    def feed(agg: WindowAggregator, batch: tuple) -> tuple[pa.Table, list[int]]:
        lo, hi = batch
        closed = agg.process_arrays(codes[lo:hi], ts[lo:hi], [a[lo:hi], b[lo:hi]])
        return closed, (np.flatnonzero(agg.last_late) + lo).tolist()

    def finish(agg: WindowAggregator, outputs: list) -> tuple:
        windows = windows_frame([*(closed for closed, _ in outputs), agg.flush_arrays()])
        return windows, [i for _, late in outputs for i in late], agg.late_count

    # bit for bit: same sums in the same order
    got, late, late_count = assert_split_equals_one_piece(
        lambda: WindowAggregator(width_ms=width, allowed_lateness_ms=lateness, channels=CHANNELS),
        feed,
        finish,
        lambda lo, hi: (lo, hi),
        len(rows),
        data,
    )
    assert late == reference.late
    assert late_count == len(reference.late)
    want = want.sort_values(["device", "window_start"]).reset_index(drop=True)
    assert_windows_equal(got, want)


def telemetry(devices: list[str], ts_ms: list[int], current: list[float | None]) -> pa.Table:
    n = len(devices)
    columns = {"device_id": devices, "ts": pa.array(ts_ms, pa.int64()).cast(UTC_MS)}
    for c in TELEMETRY_CHANNELS:
        columns[c] = pa.array([None] * n, pa.float64())
    columns["current_1"] = pa.array(current, pa.float64())
    return pa.table(columns)


def test_late_rows_are_counted_and_returned_never_merged():
    agg = WindowAggregator(width_ms=1000, allowed_lateness_ms=2000)
    first = agg.process(telemetry(["m1", "m1"], [T0 + 100, T0 + 2500], [1.0, 2.0]))
    assert first.num_rows == 0  # [T0, T0 + 1000) stays open until the watermark reaches T0 + 3000
    closed = agg.process(
        telemetry(["m1", "m1", "m1"], [T0 + 900, T0 + 3100, T0 + 200], [3.0, 4, 5])
    )
    # T0+900 joins the open window [T0, T0+1000); T0+3100 closes it; T0+200 is then late
    assert closed["current_1_mean"].to_pylist() == [2.0]
    assert closed["count"].to_pylist() == [2]
    assert agg.late_count == 1
    late = agg.late_rows()
    assert late["current_1"].to_pylist() == [5.0]
    assert agg.late_rows() is None
    rest = agg.flush()
    assert rest["current_1_mean"].to_pylist() == [2.0, 4.0]


def test_lake_ready_output_from_telemetry_table():
    agg = WindowAggregator(width_ms=1000, allowed_lateness_ms=0)
    table = telemetry(["m2", "m1", "m2", "m1"], [T0, T0 + 10, T0 + 20, T0 + 1500], [1, 2, None, 4])
    out = pa.concat_tables([agg.process(table), agg.flush()])
    assert out.schema.field("window_start").type == UTC_MS
    assert out.schema.field("date").type == pa.date32()
    assert out.column_names[:4] == ["device_id", "window_start", "width_ms", "count"]
    assert len(out.column_names) == 4 + len(TELEMETRY_CHANNELS) * len(STATS) + 1
    rows = sorted(zip(out["device_id"].to_pylist(), out["count"].to_pylist(), strict=True))
    assert rows == [("m1", 1), ("m1", 1), ("m2", 2)]
    m2 = out.filter(pa.compute.equal(out["device_id"], "m2"))
    assert m2["current_1_mean"].to_pylist() == [1.0]
    assert m2["current_1_std"].to_pylist() == [None]  # one value: sample std undefined → null
    assert m2["temp_1_mean"].to_pylist() == [None]  # channel absent → null, not 0


def test_table_names_and_bad_parameters():
    assert WindowAggregator(width_ms=10_000).table == "aggregates_10s"
    assert table_name(1000) == "aggregates_1s"
    with pytest.raises(ValueError, match="width_ms"):
        WindowAggregator(width_ms=0)
    with pytest.raises(ValueError, match="allowed_lateness_ms"):
        WindowAggregator(width_ms=1, allowed_lateness_ms=10**6)
    with pytest.raises(ValueError, match="stats"):
        WindowAggregator(stats=["median"])
    with pytest.raises(ValueError, match="missing column"):
        WindowAggregator(channels=["nope"]).process(telemetry(["m1"], [T0], [1.0]))


def test_selected_stats_only():
    agg = WindowAggregator(allowed_lateness_ms=0, channels=CHANNELS, stats=["max", "mean"])
    x = np.array([1.0, 3, 9])
    out = agg.process_arrays(np.zeros(3, np.int32), np.array([0, 1, 1000]), [x, x])
    assert out.column_names[4:] == ["a_mean", "a_max", "b_mean", "b_max"]
    assert out["a_mean"].to_pylist() == [2.0]
    assert out["a_max"].to_pylist() == [3.0]


@settings(max_examples=30, deadline=None)
@given(
    codes=st.lists(st.integers(0, 2), min_size=1, max_size=60),
    n_samples=st.integers(1, 5),
    data=st.data(),
)
def test_rolling_equals_reference_across_batches(codes, n_samples, data):
    values = data.draw(st.lists(st.floats(-1e3, 1e3), min_size=len(codes), max_size=len(codes)))
    cut = data.draw(st.integers(0, len(codes)))
    rolling = Rolling(n_samples)
    m1, s1 = rolling.process(np.array(codes[:cut]), np.array(values[:cut]))
    m2, s2 = rolling.process(np.array(codes[cut:]), np.array(values[cut:]))
    want_mean, want_std = reference_rolling(codes, values, n_samples)
    np.testing.assert_allclose(np.concatenate([m1, m2]), want_mean, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(np.concatenate([s1, s2]), want_std, rtol=1e-7, atol=1e-7)


def test_rolling_matches_pandas():
    rng = np.random.default_rng(5)
    codes, x = rng.integers(0, 4, 500), rng.normal(size=500)
    mean, std = Rolling(7).process(codes, x)
    grouped = pd.Series(x).groupby(codes).rolling(7)
    want_mean = grouped.mean().reset_index(level=0, drop=True).sort_index().to_numpy()
    want_std = grouped.std().reset_index(level=0, drop=True).sort_index().to_numpy()
    np.testing.assert_allclose(mean, want_mean, rtol=1e-9)
    np.testing.assert_allclose(std, want_std, rtol=1e-9)


@pytest.mark.parametrize("order", ["arrival", "by device and time"])
def test_threads_split_devices_and_give_the_same_windows(order):
    codes, ts, a, b = random_stream(9, 250_000, 500, jitter_ms=300)  # large enough for threads
    if order == "by device and time":  # long sorted runs, crossing the threads' row blocks
        by = np.lexsort((ts, codes))
        codes, ts, a, b = codes[by], ts[by], a[by], b[by]
    results = []
    for threads in (1, 2):
        agg = WindowAggregator(allowed_lateness_ms=500, channels=CHANNELS, threads=threads)
        tables = [agg.process_arrays(codes, ts, [a, b]), agg.flush_arrays()]
        results.append((windows_frame(tables), agg.late_count, agg.last_late.copy()))
    pd.testing.assert_frame_equal(results[0][0], results[1][0])
    assert results[0][1] == results[1][1]
    assert np.array_equal(results[0][2], results[1][2])
    if order == "arrival":
        assert results[0][1] > 0  # the jitter made rows late: the threads agree on which
