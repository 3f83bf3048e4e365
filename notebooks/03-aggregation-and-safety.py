# %% [markdown]
# # 03 · The numba kernels: windowed aggregation, safety checks and features
#
# Every reading that reaches modax — live from MQTT, replayed from a file or simulated — goes
# through three pieces of compiled numeric code in `modax.kernels`:
#
# | kernel | what it does | lake table |
# |---|---|---|
# | `aggregate.WindowAggregator` | per-device tumbling windows on event time: mean, std, min, max, RMS, peak-to-peak | `aggregates_1s` |
# | `safety.SafetyChecker` | the deterministic safety rules of `docs/safety-rules.md`, one state machine per device | `safety_events` |
# | `features.WindowFeatures` | per-window model features (moments, crest, kurtosis, slopes, FFT bands) | — (for models) |
#
# They are numba kernels over contiguous numpy arrays; pandas, polars and DuckDB are the
# interfaces around them, not the inner loop. In this notebook we run each one on a simulated
# fleet, check that it computes what a straightforward pandas or DuckDB query computes, and
# **measure the speed-up** on the same data.
#
# `SMALL = True` (what the test suite uses) keeps the data tiny: the timings are then dominated
# by fixed costs. Set `SMALL = False` for a million readings, or run `bench/aggregate.py` and
# `bench/safety.py` for the full benchmarks.

# %% tags=["parameters"]
SMALL = False
LAKE = "lake-kernels"

# %%
# Panel and HoloViews with their JavaScript inline (before anything plots, hvPlot included): the
# plots render in JupyterLab and VS Code also without internet access.
import modax.viz

modax.viz.extension()

# %%
import shutil
import time

import duckdb
import holoviews as hv
import hvplot.pandas  # noqa: F401  (registers .hvplot on DataFrames)
import numpy as np
import pandas as pd
from tqdm import tqdm

import modax
import simulator
from modax.kernels.aggregate import WindowAggregator
from modax.kernels.features import WindowFeatures
from modax.kernels.safety import SafetyChecker, SafetyConfig
from modax.lake import Lake
from modax.pipeline import Pipeline

n_devices = 20 if SMALL else 100
duration_s = 60 if SMALL else 1200
repeat = 3 if SMALL else 5
shutil.rmtree(LAKE, ignore_errors=True)  # start from an empty lake each run


def best_time(run, repeat=repeat):
    """The fastest of ``repeat`` runs of ``run()``, in seconds (the least disturbed one)."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


# %% [markdown]
# ## The data
#
# A healthy fleet, with two faults injected so that the kernels have something to find:
# device 0 is **overloaded** for 10 s (its current goes above the 10 A safety limit) and
# device 2 gets a mechanical **imbalance** from the start (it shows in the vibration spectrum).

# %%
fleet = simulator.Fleet(n_devices=n_devices, seed=3, scenario="healthy")
overloaded, unbalanced = fleet.device_ids[0], fleet.device_ids[2]
fleet.inject(overloaded, "overload", start_s=20, duration_s=10, severity=1.0)
fleet.inject(unbalanced, "imbalance", start_s=0, severity=1.0)
with tqdm(total=duration_s, unit="sim s", desc="simulating") as bar:  # simulated seconds done
    result = fleet.run(duration_s=duration_s, progress=bar.update)
telemetry = result.telemetry
frame = telemetry.to_pandas()  # pandas gets its DataFrame for free: conversion is not timed
print(f"{telemetry.num_rows:,} readings of {n_devices} devices over {duration_s} s (10 Hz)")

# %% [markdown]
# ## 1 · Windowed aggregation
#
# `WindowAggregator` keeps per-device state and is fed batch after batch (as the ingester does);
# here we give it everything at once and `flush()` the windows still open at the end. Windows
# stay open for `allowed_lateness_ms` of event time, so readings that arrive out of order are
# still merged; anything later is counted in `late_count`, never silently dropped.
#
# We ask for the four statistics pandas and DuckDB compute with one built-in aggregate each.

# %%
channels = ["current_1", "current_2", "temp_1", "temp_2", "vib_x", "vib_y", "vib_z", "vib_mag"]
stats = ("mean", "std", "min", "max")


def with_kernel():
    agg = WindowAggregator(width_ms=1000, allowed_lateness_ms=5000, channels=channels, stats=stats)
    windows = pd.concat([agg.process(telemetry).to_pandas(), agg.flush().to_pandas()])
    assert agg.late_count == 0
    return windows.sort_values(["device_id", "window_start"], ignore_index=True)


def with_pandas():
    keys = [frame["device_id"], frame["ts"].dt.floor("1s").rename("window_start")]
    windows = frame[channels].groupby(keys).agg(list(stats))
    windows.columns = [f"{c}_{s}" for c, s in windows.columns]
    return windows.reset_index()


con = duckdb.connect()
con.register("readings", telemetry)
aggregates = ", ".join(
    f"{fn}({c}) as {c}_{s}"
    for c in channels
    for s, fn in zip(stats, ("avg", "stddev_samp", "min", "max"), strict=True)
)
duck_query = f"""
    select device_id, time_bucket(interval 1 second, ts) as window_start, {aggregates}
    from readings group by all order by device_id, window_start
"""


def with_duckdb():
    return con.sql(duck_query).df()


kernel_windows = with_kernel()  # the first call loads the compiled kernel from numba's cache
kernel_windows.head()

# %% [markdown]
# Same windows, same numbers? The kernel accumulates in float64 with shifted sums, so it agrees
# with pandas and DuckDB to rounding.

# %%
pandas_windows = with_pandas()
duck_windows = with_duckdb()
value_columns = [f"{c}_{s}" for c in channels for s in stats]
for name, other in (("pandas", pandas_windows), ("DuckDB", duck_windows)):
    assert len(other) == len(kernel_windows), name
    np.testing.assert_allclose(
        kernel_windows[value_columns].to_numpy(),
        other[value_columns].to_numpy(),
        rtol=1e-9,
        atol=1e-9,
        err_msg=name,
    )
print(f"{len(kernel_windows):,} windows × {len(value_columns)} statistics: all three agree")

# %% [markdown]
# Now the timings, best of a few runs each, on the same data. The kernel's time includes
# reading the Arrow columns and building its output table.

# %%
aggregation = pd.DataFrame(
    {
        "engine": ["modax kernel", "pandas groupby", "DuckDB"],
        "seconds": [best_time(with_kernel), best_time(with_pandas), best_time(with_duckdb)],
    }
)
aggregation["readings_per_s"] = telemetry.num_rows / aggregation["seconds"]
aggregation["kernel_speed_up"] = aggregation["seconds"] / aggregation["seconds"].iloc[0]
aggregation.round(4)

# %%
aggregation.hvplot.barh(
    x="engine",
    y="readings_per_s",
    title="1 s windows: readings aggregated per second",
    xlabel="",
    ylabel="readings / s",
    height=220,
    responsive=True,
)

# %% [markdown]
# ## 2 · Safety checks
#
# `SafetyChecker` runs every rule as a state machine per device: a state that persists is one
# `begin` row and one `end` row in `safety_events`, not a row per reading. The thresholds are a
# `SafetyConfig`; the defaults are the MODAX firmware's (10 A, 85 °C, ...).

# %%
config = SafetyConfig()
events = SafetyChecker(config).process(telemetry).to_pandas()
events

# %% [markdown]
# A vectorised pandas version of the two simplest rules, for comparison: *overload* while any
# `|I| > 10 A`, *overtemp* while any `T >= 85 °C`; a state change per device is an event. The
# kernel evaluates all rules — including `temp_rise` and `sensor_stuck`, whose moving windows
# do not vectorise — in one pass.

# %%
currents = [c for c in frame.columns if c.startswith("current_")]
temperatures = [c for c in frame.columns if c.startswith("temp_")]


def pandas_rules():
    rows = frame.sort_values(["device_id", "ts"], kind="stable")
    flags = pd.DataFrame(
        {
            "overload": (rows[currents].abs() > config.overload_current_a).any(axis=1),
            "overtemp": (rows[temperatures] >= config.max_temperature_c).any(axis=1),
        }
    )
    before = flags.groupby(rows["device_id"]).shift(fill_value=False)
    found = []
    for kind in flags:
        for state, changed in (
            ("begin", flags[kind] & ~before[kind]),
            ("end", ~flags[kind] & before[kind]),
        ):
            found.append(rows.loc[changed, ["device_id", "ts"]].assign(kind=kind, state=state))
    return pd.concat(found).sort_values(["ts", "device_id", "kind"], ignore_index=True)


def with_checker():
    return SafetyChecker(config).process(telemetry)


shared = events[events["kind"].isin(["overload", "overtemp"])]
shared = shared.sort_values(["ts", "device_id", "kind"], ignore_index=True)
columns = ["device_id", "ts", "kind", "state"]
pd.testing.assert_frame_equal(shared[columns], pandas_rules()[columns], check_dtype=False)
safety = pd.DataFrame(
    {
        "engine": ["modax kernel (all 8 rules)", "pandas (2 rules)"],
        "seconds": [best_time(with_checker), best_time(pandas_rules)],
    }
)
safety["readings_per_s"] = telemetry.num_rows / safety["seconds"]
safety["kernel_speed_up"] = safety["seconds"] / safety["seconds"].iloc[0]
safety.round(4)

# %% [markdown]
# The overload, as the kernel saw it: the motor current of device 0 and the begin and end of
# its `overload` state.

# %%
device = frame[frame["device_id"] == overloaded]
marks = events[(events["device_id"] == overloaded) & (events["kind"] == "overload")]
current_plot = device.hvplot.line(
    x="ts",
    y=["current_1", "current_2"],
    ylabel="current (A)",
    height=300,
    responsive=True,
    title=f"{overloaded}: overload from the safety kernel",
)
limit = hv.HLine(config.overload_current_a).opts(color="red", line_dash="dashed")
edges = hv.VLines(marks["ts"].dt.tz_localize(None).to_numpy()).opts(color="black", alpha=0.6)
current_plot * limit * edges

# %% [markdown]
# ## 3 · Features for models
#
# `WindowFeatures` is a scikit-learn transformer: telemetry rows in, one row per device and
# 10 s window out, with moments, crest factor, skewness, kurtosis, temperature slopes (°C/s)
# and spectral band energies of the vibration ((m/s²)², the bands add up to the variance).
# It drops into a scikit-learn `Pipeline` in front of any detector (notebook 04).

# %%
features = WindowFeatures(
    width_ms=10_000, channels=["current_1", "vib_x", "temp_1"], n_bands=4
).fit_transform(telemetry)
print(features.shape[0], "windows ×", features.shape[1], "features")
features.head(3).T.head(12)

# %% [markdown]
# The imbalance on device 2 puts its energy in the highest vibration band (the rotation
# harmonics), where the healthy motors have almost none:

# %%
bands = [f"vib_x_band{b}" for b in range(4)]
per_device = features[bands].groupby(level="device_id").mean()
compare = per_device.loc[[overloaded, unbalanced, fleet.device_ids[1]]]
compare.T.hvplot.bar(
    rot=0,
    ylabel="mean square (m/s²)²",
    title="vib_x band energies, mean over windows",
    height=300,
    responsive=True,
)

# %% [markdown]
# ## 4 · The same kernels in the pipeline
#
# The kernels are not a notebook trick: `Pipeline.store` (and the live ingester) runs them on
# every batch and writes their output to the lake. The `aggregates_1s` table holds exactly the
# windows we computed above (the pipeline computes all six statistics).

# %%
lake = Lake(LAKE)
pipeline = Pipeline(lake)
pipeline.store(telemetry, result.device_safety)
pipeline.close()
con_lake = modax.connect(LAKE)
stored = con_lake.sql(
    "select device_id, window_start, current_1_mean, current_1_max from aggregates_1s "
    "order by device_id, window_start"
).df()
np.testing.assert_allclose(stored["current_1_mean"], kernel_windows["current_1_mean"])
print(f"aggregates_1s: {len(stored):,} windows, equal to the kernel's")
con_lake.sql("select device_id, kind, state, ts from safety_events order by ts, device_id").df()

# %% [markdown]
# **Takeaways.** The kernels compute what pandas and DuckDB compute, with state that carries
# across batches (which a `groupby` does not have) and without a sort. For the full comparison
# on 10 M readings, in arrival and device-sorted order:
#
# ```sh
# nice .venv/bin/python bench/aggregate.py
# nice .venv/bin/python bench/safety.py
# ```
