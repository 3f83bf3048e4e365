# %% [markdown]
# # 04 · Anomaly lab: build, compare and deploy detectors
#
# The simulator knows the truth: every fault it injects is recorded, and `SimResult.labels()`
# says for each reading whether a fault was active. That makes it a test bench for anomaly
# detectors — next to **SKAB**, the public Skoltech Anomaly Benchmark (a water-circulation rig
# with valve faults; a development subset ships in `data/skab/`).
#
# In this notebook we
#
# 1. simulate a labelled fleet and turn it into 1 Hz series per device,
# 2. fit one detector by hand and score it point-wise and per event,
# 3. compare the detectors of `modax.models.anomaly` under the SKAB protocol, on the simulator
#    and on SKAB,
# 4. deploy one as **live advisory**: it scores every new reading in the pipeline and publishes
#    alerts — which never change a safety state.

# %% tags=["parameters"]
SMALL = False
LAKE = "lake-anomaly"

# %%
# Panel and HoloViews with their JavaScript inline (before anything plots, hvPlot included): the
# plots render in JupyterLab and VS Code also without internet access.
import modax.viz

modax.viz.extension()

# %%
import json
import shutil

import holoviews as hv
import hvplot.pandas  # noqa: F401  (registers .hvplot on DataFrames)
import numpy as np
import pandas as pd
from tqdm import tqdm

import modax
import simulator
from modax.advisory import Advisor, load_model, save_model
from modax.kernels.deriver import KernelDeriver
from modax.lake import Lake
from modax.models.anomaly import (
    DETECTORS,
    SIM_PARAMS,
    LevelShiftDetector,
    device_series,
    evaluate_skab,
)
from modax.models.datasets import load_skab
from modax.models.metrics import event_metrics, events, point_metrics
from modax.pipeline import Pipeline

n_devices = 6 if SMALL else 10
duration_s = 600 if SMALL else 3600
train_s = 120 if SMALL else 900  # leading seconds of each device to fit on
names = ["modax-baseline", "pca-t2q", "level-shift", "streaming"] if SMALL else list(DETECTORS)
seeds = range(1) if SMALL else range(3)  # stochastic detectors: mean ± std over seeds
for folder in (LAKE, f"{LAKE}-model"):
    shutil.rmtree(folder, ignore_errors=True)  # start from an empty lake each run
FIGURES = ["f1", "far", "mar", "nab", "event_recall", "event_precision", "mean_delay_s"]

# %% [markdown]
# ## 1 · Labelled data from the simulator
#
# The `mixed-faults` scenario draws mechanical, electrical, thermal and sensor faults on a share
# of the fleet. `ground_truth` lists them; `labels()` aligns them with the telemetry rows.

# %%
with tqdm(total=duration_s, unit="sim s", desc="simulating") as bar:  # simulated seconds done
    result = simulator.Fleet(n_devices=n_devices, seed=5, scenario="mixed-faults").run(
        duration_s, progress=bar.update
    )
truth = result.ground_truth.to_pandas()
truth[truth["category"] != "network"][["device_id", "kind", "start_ts", "end_ts", "severity"]]

# %% [markdown]
# Detectors see one machine at a time, in time order. `device_series` averages each device's
# 10 Hz readings to 1 Hz (SKAB's rate) and labels a second anomalous where most of its readings
# are.

# %%
labels = result.labels()
series = device_series(result.telemetry, labels["anomaly"], labels["fault"])
pd.DataFrame(
    {
        "device": [s.name for s in series],
        "seconds": [len(s.data) for s in series],
        "anomalous_s": [int(s.anomaly.sum()) for s in series],
        "channels": [", ".join(s.data.columns) for s in series],
    }
)

# %% [markdown]
# ## 2 · One detector by hand
#
# Every detector has the scikit-learn API: `fit` on normal rows, then `predict` → 0/1 alarms
# and `score_samples` → higher is stranger. `LevelShiftDetector` watches each channel's
# trailing 10 s mean and spread and alarms on a sustained shift, discounting channels that
# drift anyway (temperatures). We take the device with the most faulty seconds.

# %%
case = max(series, key=lambda s: s.anomaly.sum())
normal = case.anomaly[:train_s] == 0
detector = LevelShiftDetector().fit(case.data.iloc[:train_s][normal])
alarms = detector.predict(case.data)
scored, truth_scored = alarms[train_s:], case.anomaly[train_s:]
print(case.name, "— point-wise:", point_metrics(truth_scored, scored).as_dict())
print(case.name, "— events:", event_metrics(truth_scored, scored).as_dict())

# %% [markdown]
# Point-wise figures (F1, false and missed alarm rates in %) count seconds; event figures treat
# each run of anomalous seconds as one fault: was it caught, how late, and how many alarms
# were false. Truth is shaded grey, alarms red:

# %%
times = case.data.index.tz_localize(None)


def spans(flags, color):
    pairs = [(times[a], times[b - 1]) for a, b in events(flags)]
    return hv.VSpans(pairs).opts(color=color, alpha=0.2) if pairs else hv.VSpans([])


panels = [
    case.data.hvplot.line(x=None, y=column, height=180, responsive=True, title=column)
    * spans(case.anomaly, "grey")
    * spans(alarms, "red")
    for column in ("current_1", "temp_1", "vib_mag")
]
hv.Layout(panels).cols(1)

# %% [markdown]
# ## 3 · A leaderboard on the simulator
#
# The SKAB protocol, run on every device series: fit a fresh detector on each series' first
# `train_s` normal seconds, predict the rest, pool the confusion matrices and events. The NAB
# score rewards early detection. Stochastic detectors run once per seed and report the mean.
# (`modax eval sim` runs the same from the command line.)


# %%
def runs(what):
    """A progress bar over the detector runs of an evaluation (one tick per run)."""
    return tqdm(desc=what, unit="run")


def leaderboard(results):
    table = pd.DataFrame({name: r.as_dict() for name, r in results.items()}).T[FIGURES]
    return table.astype(float).sort_values("f1", ascending=False).round(3)


with runs("simulator, SKAB protocol") as bar:
    sim_board = leaderboard(
        evaluate_skab(
            series, names, seeds=seeds, train_rows=train_s, params=SIM_PARAMS,
            progress=lambda _name: bar.update(),
        )
    )
sim_board

# %% [markdown]
# Pick a figure from the widget to compare the detectors on it. (The MODAX baseline alarms
# almost everywhere: it compares the raw vibration magnitude, which reads 1 g at rest, against
# levels meant for the vibration alone — a flaw of the original, kept to measure against.)

# %%
long = sim_board.reset_index(names="detector").melt(
    id_vars="detector", var_name="figure", value_name="value"
)
long.hvplot.barh(
    x="detector", y="value", groupby="figure", height=260, responsive=True, title="simulator"
)

# %% [markdown]
# ## 4 · The same detectors on SKAB
#
# SKAB's columns differ (accelerometers, pressure, temperature, current, voltage, flow), so the
# protocol maps the MODAX baseline's channels onto them; the others take any columns.

# %%
skab = load_skab("../data/skab")
print([f.name for f in skab])
with runs("SKAB") as bar:
    skab_board = leaderboard(
        evaluate_skab(skab, names, seeds=seeds, progress=lambda _name: bar.update())
    )
skab_board

# %%
pd.concat({"simulator": sim_board["f1"], "SKAB": skab_board["f1"]}, axis=1).hvplot.bar(
    rot=30, ylabel="F1", title="F1 on both benchmarks", height=300, responsive=True
)

# %% [markdown]
# ## 5 · Deploy as live advisory
#
# The level-shift detector does well on both benchmarks, so we deploy it. Live telemetry comes
# at 10 Hz, not 1 Hz, so the windows are given in readings: 100 readings = 10 s, and an
# excursion must last 200 readings = 20 s.
#
# A new fleet runs healthy for a while; its history goes to the lake, and we fit on it with a
# DuckDB query — the way you would fit on your own machines' history.

# %%
lake = Lake(LAKE)
fleet = simulator.Fleet(n_devices=4, seed=21, scenario="healthy")
history = fleet.run(duration_s=120)
pipeline = Pipeline(lake)
pipeline.store(history.telemetry, history.device_safety)
pipeline.close()

features = ["current_1", "current_2", "temp_1", "vib_mag"]
con = modax.connect(LAKE)
rows = con.sql(f"select {', '.join(features)} from telemetry order by device_id, ts").fetchnumpy()
span = con.sql("select count(*) as rows, min(ts) as start, max(ts) as end from telemetry")
span = span.df().iloc[0].to_dict()
live_detector = LevelShiftDetector(window=100, min_duration=200).fit(
    np.column_stack([rows[f] for f in features])
)
folder = save_model(
    live_detector,
    f"{LAKE}-model",
    name="level-shift-10hz",
    features=features,
    training={**span, "devices": fleet.device_ids},
    metrics={"sim_f1": float(sim_board.loc["level-shift", "f1"])},
)
print(json.dumps(json.loads((folder / "model.json").read_text())["training"], indent=1))

# %% [markdown]
# The `Advisor` is a derive step of the pipeline, beside the safety kernels — the same step a
# live ingester runs when its `pipeline_factory` adds it (`modax advise run` runs a saved model
# on live MQTT on its own). It writes a `scores` row per reading (always `advisory = true`) and
# publishes one alert when a device starts alarming. Here alerts go to a list instead of MQTT.
#
# We give one motor an imbalance and stream the next minutes through the pipeline in 10 s
# micro-batches, as the ingester would.

# %%
alerts = []
advisor = Advisor(
    load_model(folder),
    publish=lambda topic, payload: alerts.append((topic, payload)),
    context_rows=600,
)
faulty = fleet.device_ids[1]
fleet.inject(faulty, "imbalance", start_s=fleet.time_s + 30, severity=1.0)
live = Pipeline(lake, derivers=[KernelDeriver(), advisor])
fleet.run(
    duration_s=150,
    on_chunk=lambda chunk: live.store(chunk.telemetry, chunk.device_safety),
    chunk_s=10,
)
live.close()
con.refresh()
con.sql(
    """
    select device_id, count(*) as scored, sum(alarm::int) as alarms,
           min(ts) filter (where alarm) as first_alarm, round(max(score), 1) as max_score
    from scores group by device_id order by device_id
    """
).df()

# %% [markdown]
# The alert says what it is — advice, with no effect on safety — and what to look at:

# %%
topic, payload = alerts[0]
print(topic)
print(json.dumps(json.loads(payload), indent=1))

# %%
scores = con.sql(
    f"select ts, score, threshold from scores where device_id = '{faulty}' order by ts"
).df()
scores.hvplot.line(
    x="ts",
    y="score",
    logy=True,
    height=280,
    responsive=True,
    title=f"{faulty}: advisory score (z), alarm level dashed",
) * hv.HLine(live_detector.threshold_).opts(color="red", line_dash="dashed")
