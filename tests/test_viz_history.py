"""LTTB kernel vs its reference twin, and device history downsampled from a real lake."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import modax
from modax.lake import Lake, Maintenance
from modax.pipeline import Pipeline
from modax.schema import TELEMETRY_CHANNELS, TELEMETRY_SCHEMA
from modax.viz import history, lttb, lttb_reference

START = datetime(2026, 3, 1, tzinfo=UTC)


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(st.floats(-1e3, 1e3), min_size=3, max_size=400),
    n_out=st.integers(3, 60),
)
def test_kernel_equals_reference(values: list[float], n_out: int) -> None:
    y = np.array(values)
    x = np.cumsum(np.ones(len(y)))
    if len(y) <= n_out:
        assert lttb(x, y, n_out).tolist() == list(range(len(y)))
    else:
        assert lttb(x, y, n_out).tolist() == lttb_reference(x, y, n_out).tolist()


def test_lttb_keeps_peaks_ends_and_order() -> None:
    rng = np.random.default_rng(1)
    x = np.arange(100_000, dtype=float)
    y = rng.normal(0, 0.1, x.size)
    y[31_337], y[77_000] = 50.0, -40.0
    idx = lttb(x, y, 500)
    assert len(idx) == 500
    assert idx[0] == 0 and idx[-1] == x.size - 1
    assert np.all(np.diff(idx) > 0)
    assert {31_337, 77_000} <= set(idx.tolist())


def test_lttb_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="n_out"):
        lttb(np.arange(10.0), np.arange(10.0), 2)
    with pytest.raises(ValueError, match="one length"):
        lttb(np.arange(10.0), np.arange(9.0), 5)


def telemetry(device: str, start: datetime, n: int, step_ms: int, spike_at: int) -> pa.Table:
    t0 = int(start.timestamp() * 1000)
    ts = t0 + np.arange(n, dtype=np.int64) * step_ms
    rng = np.random.default_rng(0)
    cols = {c: rng.normal(4.0, 0.1, n) for c in TELEMETRY_CHANNELS}
    cols["current_1"][spike_at] = 42.0
    for c in ("current_3", "current_4", "temp_3", "temp_4"):
        cols[c] = np.full(n, np.nan)
    arrays = {
        "device_id": pa.array([device] * n),
        "seq": pa.array(np.arange(n)),
        "timestamp": pa.array(ts),
        "ts": pa.array(ts, pa.timestamp("ms", tz="UTC")),
        "received_at": pa.array(ts, pa.timestamp("ms", tz="UTC")),
        **{c: pa.array(v, from_pandas=True) for c, v in cols.items()},
    }
    return pa.table(arrays).cast(TELEMETRY_SCHEMA.remove(TELEMETRY_SCHEMA.get_field_index("date")))


@pytest.fixture(scope="module")
def con(tmp_path_factory: pytest.TempPathFactory) -> modax.lake.LakeConnection:
    lake = Lake(tmp_path_factory.mktemp("lake"))
    lake.append("telemetry", telemetry("h1", START, 200_000, 100, spike_at=123_456))  # 5.5 h
    lake.append("telemetry", telemetry("h2", START, 500, 100, spike_at=10))
    return modax.connect(lake)


def test_long_range_is_downsampled_in_duckdb_and_keeps_the_spike(con) -> None:
    frame = history(con, "h1", START, START + timedelta(days=1), max_points=1000)
    assert set(frame["channel"]) == set(TELEMETRY_CHANNELS) - {
        "current_3",
        "current_4",
        "temp_3",
        "temp_4",
    }
    per_channel = frame.groupby("channel").size()
    assert per_channel.max() <= 1000
    current = frame[frame["channel"] == "current_1"]
    assert current["value"].max() == 42.0
    spike_time = START + timedelta(milliseconds=123_456 * 100)
    assert current.loc[current["value"].idxmax(), "time"] == spike_time
    assert current["time"].is_monotonic_increasing
    assert str(current["time"].dt.tz) == "UTC"


def test_short_range_returns_raw_points_of_one_device(con) -> None:
    frame = history(con, "h2", START, START + timedelta(seconds=20), channels=("current_1",))
    assert len(frame) == 200  # 20 s at 10 Hz, no downsampling needed
    assert frame["value"].max() == 42.0
    assert history(con, "nobody", START, START + timedelta(days=1)).empty


def test_naive_datetimes_are_refused(con) -> None:
    with pytest.raises(ValueError, match="time zone"):
        history(con, "h1", datetime(2026, 3, 1), datetime(2026, 3, 2))


def test_long_ranges_read_the_coarsest_summary_and_the_newest_minutes_raw(tmp_path) -> None:
    lake = Lake(tmp_path / "lake")
    hours = 3 * 36_000  # 3 h at 10 Hz
    rows = telemetry("s1", START, hours, 100, spike_at=50_000)
    pipeline = Pipeline(lake)
    pipeline.store(rows)
    pipeline.close()
    Maintenance(lake, clock=lambda: START + timedelta(days=1)).rollup()
    tail_start = START + timedelta(hours=3)
    tail = telemetry("s1", tail_start, 3_000, 100, spike_at=2_999)  # 5 min, not rolled up yet
    lake.append("telemetry", tail.set_column(1, "seq", pa.array(np.arange(3_000) + hours)))
    con = modax.connect(lake)
    assert {"aggregates_1s", "aggregates_1min"} <= set(con.tables)
    end = START + timedelta(hours=4)
    frame = history(con, "s1", START, end, channels=("current_1",), max_points=60)
    assert frame["time"].is_monotonic_increasing and len(frame) <= 60
    spike = frame.loc[frame["value"].idxmax()]
    minute = START + timedelta(milliseconds=50_000 * 100)
    minute = minute.replace(second=0, microsecond=0)
    assert spike["value"] == 42.0
    assert spike["time"] == minute + timedelta(milliseconds=59_999)  # its 1 min window's end
    assert frame["time"].iloc[-1] == tail_start + timedelta(milliseconds=2_999 * 100)  # raw tail
    hour = START + timedelta(hours=1)
    fine = history(con, "s1", hour, hour + timedelta(minutes=80), channels=("current_1",))
    assert fine["value"].max() == 42.0  # 80 min in 2,000 points: 1.2 s buckets from aggregates_1s
    assert (fine["time"].dt.microsecond % 1_000 == 0).all()
