# %% [markdown]
# # 07 · A detector against the live twin: inject faults, measure detection delay and false alarms
#
# An anomaly detector is only as good as what it catches, how fast, and how often it cries wolf.
# The simulator's live twin answers all three without hardware: it publishes a fleet over MQTT,
# honours commands on `modax/devices/{id}/command` — inject a fault, now — and acknowledges each
# one with the (simulated) time it takes effect.
#
# ```
# live twin (LivePublisher) ──► MQTT broker ──► advisor (detector) ──► modax/devices/{id}/advisory
#        ▲                           │                                          │
#        └── Twin.inject (command) ──┴──► live fleet view in this notebook ◄────┘
# ```
#
# We fit a detector on healthy history, run it live beside the twin, **watch the fleet in one
# cell** and inject faults from the next ones. For every injection we measure the **detection
# delay** (the fault takes effect → the device's first advisory alert) and count the **false
# alarms** (alerts of devices with no fault active). At the end everything is stopped.

# %% tags=["parameters"]
SMALL = False
LAKE = "lake-twin"
MODEL = ""  # a registered anomaly model to test, NAME[@alias|:version]; empty: fit one here
BROKER = ""  # a broker with a running twin (`modax simulate --mqtt`); empty: start both here

# %%
# Panel and HoloViews with their JavaScript inline (before anything plots, hvPlot included): the
# plots render in JupyterLab and VS Code also without internet access.
import modax.viz

modax.viz.extension()

# %%
import json
import os
import shutil
import threading
from datetime import UTC, datetime
from functools import partial

import holoviews as hv
import hvplot.pandas  # noqa: F401  (registers .hvplot on DataFrames)
import numpy as np
import pandas as pd
from tqdm import tqdm

import simulator
from modax.advisory import LiveModels, run_live
from modax.config import load_settings
from modax.lake import Lake
from modax.local import start_broker
from modax.models.anomaly import make_detector
from modax.mqtt import ClientFactory
from modax.registry import Registry
from modax.testing import free_port, wait_for
from modax.twin import Twin
from modax.viz import FleetOverview, LiveFeed
from simulator import GROUND_TRUTH_SCHEMA, LivePublisher

n_devices = 3 if SMALL else 10
train_s = 60 if SMALL else 600  # healthy history to fit on, simulated seconds
fault_s = 5 if SMALL else 60  # how long each injected fault lasts, s
quiet_s = 3 if SMALL else 60  # fault-free time after each fault, s
features = ["current_1", "current_2", "temp_1", "vib_mag"]
if not MODEL:
    shutil.rmtree(LAKE, ignore_errors=True)  # start from an empty lake (and registry) each run

# %% [markdown]
# ## 1 · A registered detector
#
# The twin's devices start cold and warm up; we simulate the same fleet healthy (in batch, as
# fast as numba runs it), fit PCA with Hotelling's T² on four channels at 10 Hz, register it in
# the lake's model registry (MLflow; `MLFLOW_TRACKING_URI` chooses another store) and promote it
# to `live` — what `modax advise run` runs. With `MODEL` set we test that registered model
# instead.

# %%
registry = Registry(LAKE)
if not MODEL:
    healthy = simulator.Fleet(n_devices=n_devices, seed=7, scenario="healthy")
    history = healthy.run(train_s)
    training = np.column_stack([history.telemetry[f].to_numpy() for f in features])
    fitted = registry.register(
        make_detector("pca-t2").fit(training),
        name="pca-t2-twin",
        kind="anomaly",
        features=features,
        training={"rows": len(training), "devices": healthy.device_ids},
    )
    MODEL = registry.promote(fitted.name, fitted.version).name
models = LiveModels.from_registry(registry, MODEL)
print(f"{registry}: testing {models.describe()}")

# %% [markdown]
# ## 2 · Broker, twin and advisor
#
# An embedded broker on a free port; the twin publishes the fleet at real time (10 Hz per device)
# on a thread of this kernel and listens to commands (with `BROKER` set, we use that broker, the
# twin running there and the `MODAX_*` credentials); the advisor subscribes to the telemetry,
# scores every reading and publishes an alert on `modax/devices/{id}/advisory` when a device
# starts (and stops) alarming. The live feed is the dashboards' subscription: the fleet view
# below reads it.

# %%
broker = None if BROKER else start_broker(free_port())
settings = load_settings({**os.environ, "MODAX_BROKER": BROKER or broker.url, "MODAX_LAKE": LAKE})
factory = ClientFactory.from_settings(settings)
stop = threading.Event()
advising = threading.Event()
threads = [
    threading.Thread(
        target=run_live,
        args=(models, factory, Lake(LAKE)),
        kwargs={"batch_s": 0.25, "stop": stop, "ready": advising},
        name="advisor",
    )
]
twin_fleet = None
if broker is not None:
    fleet = simulator.Fleet(n_devices, seed=7, scenario="healthy", start=datetime.now(UTC))
    twin_fleet = LivePublisher(
        fleet, broker.host, broker.port, client_factory=partial(factory, mqtt5=False)
    )
    threads.append(threading.Thread(target=twin_fleet.run, kwargs={"stop": stop}, name="twin"))
for thread in threads:
    thread.start()
feed = LiveFeed(settings).start()
wait_for(advising.is_set, 30.0, "the advisor's subscription")
wait_for(lambda: len(feed.fleet.device_ids()) >= 3, 30.0, "three devices' first readings")
devices = feed.fleet.device_ids()
print(f"{settings.broker_url}: {len(devices)} devices live, advisor running {models.describe()}")

# %% [markdown]
# ## 3 · The live fleet
#
# This view refreshes itself four times a second for as long as its output is on screen. Keep it
# in sight while the next cells inject faults: the device turns to *warning* when the detector
# raises an advisory alert and to *alarm* when the device's own safety logic trips (an overload).

# %%
FleetOverview(feed.fleet, period_ms=250)

# %% [markdown]
# ## 4 · Inject a fault
#
# `Twin.inject` publishes the command and returns the twin's acknowledgement: `applies_at` is
# the simulated time the fault begins, the clock the readings carry. We overload one motor:
# watch its row in the view above turn to *alarm* — the device's own safety logic trips — and
# its anomaly score rise.

# %%
injections = []
twin = Twin(factory).connect()


def inject(device_id, kind, severity=1.0):
    """Inject ``kind`` into ``device_id`` for ``fault_s`` seconds; remember when it began."""
    ack = twin.inject(device_id, kind, severity=severity, duration_s=fault_s)
    assert ack.accepted, ack
    injections.append(
        {"device_id": device_id, "kind": kind, "severity": severity, "at_ms": ack.applies_at}
    )
    return ack


inject(devices[1], "overload")

# %% [markdown]
# ## 5 · More faults, one at a time
#
# Each fault lasts `fault_s` seconds and is followed by `quiet_s` seconds without any, on one
# device after the other. We wait on the fleet's own clock — the newest reading's time in the
# live feed — not on a timer.

# %%
kinds = ["bearing_wear"] + ([] if SMALL else ["imbalance", "overheating", "misalignment"])
plan = [(devices[(2 + i) % len(devices)], kind) for i, kind in enumerate(kinds)]


def fleet_clock_ms():
    """The newest reading's time in the live feed, epoch ms (the twin's simulated clock)."""
    return max(feed.fleet.row(d)["last_ts"] or 0 for d in feed.fleet.device_ids())


def settle():
    """Wait until the last fault has ended and the quiet time after it has passed."""
    end = injections[-1]["at_ms"] + (fault_s + quiet_s) * 1000
    wait_for(lambda: fleet_clock_ms() >= end, fault_s + quiet_s + 30.0, "the fleet's clock")


settle()
for device_id, kind in tqdm(plan, desc="injections"):
    inject(device_id, kind)
    settle()

# %% [markdown]
# ## 6 · Detection delay and false alarms
#
# An alert of a device while its fault is active (or up to `quiet_s` after, the detector's
# memory) detects it; every other alert is a false alarm.

# %%
alerts = pd.DataFrame(
    [(a.device_id, a.raised_ms) for a in feed.fleet.alarms.alarms() if a.source == "model"],
    columns=["device_id", "raised_ms"],
)
alerts = alerts[alerts["raised_ms"] >= injections[0]["at_ms"]].sort_values("raised_ms")
faults = pd.DataFrame(injections).assign(end_ms=lambda f: f["at_ms"] + fault_s * 1000)
alerts["detects"] = [
    (
        (faults["device_id"] == a.device_id)
        & (faults["at_ms"] <= a.raised_ms)
        & (a.raised_ms <= faults["end_ms"] + quiet_s * 1000)
    ).any()
    for a in alerts.itertuples()
]


def first_alert_s(fault):
    mine = alerts[(alerts["device_id"] == fault.device_id) & alerts["detects"]]
    mine = mine[mine["raised_ms"] >= fault.at_ms]
    return (mine["raised_ms"].iloc[0] - fault.at_ms) / 1000 if len(mine) else np.nan


faults["delay_s"] = [first_alert_s(f) for f in faults.itertuples()]
watched_h = (fleet_clock_ms() - injections[0]["at_ms"]) / 3.6e6 * len(devices)
false_alarms = int((~alerts["detects"]).sum())
summary = {
    "detected": f"{faults['delay_s'].notna().sum()} of {len(faults)}",
    "median delay (s)": round(float(faults["delay_s"].median()), 2),
    "false alarms": false_alarms,
    "false alarms per device-hour": round(false_alarms / watched_h, 1),
}
print(summary)
faults.assign(at=lambda f: pd.to_datetime(f["at_ms"], unit="ms", utc=True))[
    ["device_id", "kind", "severity", "at", "delay_s"]
]

# %% [markdown]
# Each fault as a bar from its start to its end, each alert as a dot — green when it detects a
# fault, red when it is a false alarm:

# %%
start = injections[0]["at_ms"]
bars = hv.Segments(
    faults.assign(x0=(faults["at_ms"] - start) / 1000, x1=(faults["end_ms"] - start) / 1000),
    ["x0", "device_id", "x1", "device_id"],
).opts(line_width=12, alpha=0.4, color="gray")
dots = hv.Scatter(
    alerts.assign(t=(alerts["raised_ms"] - start) / 1000, hit=alerts["detects"].map(str)),
    "t",
    ["device_id", "hit"],
).opts(color="hit", cmap={"True": "green", "False": "red"}, size=9)
(bars * dots).opts(
    height=260,
    responsive=True,
    xlabel="time since the first injection (s)",
    ylabel="device",
    title=f"{models.describe()}: injected faults and advisory alerts",
)

# %% [markdown]
# ## 7 · Log the run
#
# The test goes to the registry's tracking store as a run of the experiment
# `modax-twin-tests`: the model and its version, the injections, the delays (one step per
# injection) and the false alarms. Compare runs with
# `mlflow ui --backend-store-uri <the store printed below>`.

# %%
delays = faults["delay_s"].tolist()  # a missed fault: NaN, left out of its step
run_id = registry.log_run(
    "modax-twin-tests",
    run_name=f"{models.describe()} vs the twin",
    params={
        "model": models.describe(),
        "devices": len(devices),
        "fault_s": fault_s,
        "quiet_s": quiet_s,
        "injections": json.dumps([(i["device_id"], i["kind"], i["severity"]) for i in injections]),
    },
    metrics={
        "detected": float(faults["delay_s"].notna().sum()),
        "median_delay_s": float(faults["delay_s"].median()),
        "false_alarms": float(false_alarms),
    },
    series={"delay_s": delays},
    artifacts={"injections.csv": faults.to_csv(index=False)},
)
print(f"logged run {run_id} to {registry.tracking_uri}")

# %% [markdown]
# ## 8 · Stop everything
#
# The twin writes its ground truth — every injected fault with its time — to the lake, where
# `modax eval` finds it.

# %%
twin.close()
stop.set()
for thread in threads:
    thread.join(30)
feed.stop()
truth = GROUND_TRUTH_SCHEMA.empty_table()  # `modax simulate --mqtt` at BROKER writes its own
if twin_fleet is not None:
    broker.close()
    truth = twin_fleet.ground_truth
    Lake(LAKE).append("ground_truth", truth)
truth.to_pandas()[["device_id", "kind", "severity", "start_ts", "end_ts"]]
