# %% [markdown]
# # 06 · Firmware and safety vectors: the device and the kernel, side by side
#
# The ESP32 firmware in `firmware/` is written around a **portable C++ core**
# (`firmware/lib/modax_core`): sensor conversions, the payload builder and the safety rules, with
# no Arduino dependency. The same core builds on this machine with g++, and two sets of JSON
# **vectors** in `firmware/vectors/` pin down what it must do:
#
# - `payload_*.json` — readings in, the exact MQTT topic and payload bytes out (or the field the
#   core refuses to publish);
# - `safety_*.json` — a stream of readings, the expected safety flags after each one and the
#   begin/end events. The same file is run by the C++ core, by the numba kernel
#   `modax.kernels.safety` and by its plain-Python twin: three implementations, one truth.
#
# This notebook runs them side by side, and ends with how to run the whole device in the Wokwi
# simulator. `make firmware-test` runs the core's unit tests and every vector.

# %% tags=["parameters"]
SMALL = False
LAKE = "lake-firmware"

# %%
# Panel and HoloViews with their JavaScript inline (before anything plots, hvPlot included): the
# plots render in JupyterLab and VS Code also without internet access.
import modax.viz

modax.viz.extension()

# %%
import fcntl
import json
import math
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import holoviews as hv
import hvplot.pandas  # noqa: F401  (registers .hvplot on DataFrames)
import numpy as np
import pandas as pd
import panel as pn
import pyarrow as pa
import pyarrow.compute as pc

import modax
from modax.cli import missing_requirements
from modax.kernels.safety import VECTOR_KINDS, SafetyChecker, SafetyConfig
from modax.lake import Lake
from modax.pipeline import Pipeline
from modax.schema import MAX_CHANNELS, MessageError, decode, topic_for

FIRMWARE = Path("../firmware")
PAYLOAD_VECTORS = sorted((FIRMWARE / "vectors").glob("payload_*.json"))
SAFETY_VECTORS = sorted((FIRMWARE / "vectors").glob("safety_*.json"))
for folder in (LAKE, f"{LAKE}-vectors"):
    shutil.rmtree(folder, ignore_errors=True)  # start from an empty lake each run
print(len(PAYLOAD_VECTORS), "payload vectors,", len(SAFETY_VECTORS), "safety vectors")

# %% [markdown]
# ## 1 · Build the C++ core on the host
#
# `make -C firmware cli` compiles the core and `modax_core_cli`, a small program that feeds a
# vector file to the core and prints what it did as JSON lines. The build is incremental and
# shared with the test suite (one build at a time: we take the same lock). Without g++ the
# notebook still runs the Python side.

# %%
core = None
if shutil.which("g++") and shutil.which("make"):
    build = FIRMWARE / "build"
    build.mkdir(exist_ok=True)
    with (build / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = subprocess.run(["make", "-s", "-C", str(FIRMWARE), "cli"], capture_output=True)
    done.check_returncode()
    core = build / "modax_core_cli"
    print("built", core)
else:
    print("no g++/make here (apt-get install g++ make): showing the Python side only")


def run_core(*args):
    """``modax_core_cli ARGS``: one dict per JSON line of its output."""
    out = subprocess.run([str(core), *args], capture_output=True, text=True, check=True).stdout
    return [json.loads(line) for line in out.splitlines()]


if core is not None:
    print(run_core("limits")[0])

# %% [markdown]
# The core's safety defaults are the Python kernel's (`SafetyConfig`): one set of thresholds.

# %%
if core is not None:
    defaults = run_core("limits")[0]["safety_defaults"]
    python = SafetyConfig().to_dict()
    print({k: (v, python[k]) for k, v in defaults.items()})
    assert all(python[k] == v for k, v in defaults.items())

# %% [markdown]
# ## 2 · Payloads: byte for byte, and through `modax.schema`
#
# For every message of every payload vector: what the core built (or refused), whether that is
# byte for byte the expected payload, and what the Python decoder — the contract every modax
# component shares — makes of it. For a message the core refuses to build, we hand the naive
# JSON of the same reading to the decoder: it rejects it for the same field.


# %%
def naive_payload(device_id, message):
    """The JSON a careless device would send for a message the core refuses to build."""
    body = {"timestamp": message["timestamp"], "device_id": device_id, "seq": message["seq"]}
    if message["kind"] == "telemetry":
        body |= message["reading"]
        vib = message["reading"]["vibration"]
        body["vibration"] = vib | {"magnitude": math.hypot(vib["x"], vib["y"], vib["z"])}
    else:
        body |= message["state"]
    return json.dumps(body).encode()


rows = []
built_messages = []
for path in PAYLOAD_VECTORS:
    vector = json.loads(path.read_text())
    device_id = vector["device_id"]
    built = (
        run_core("payloads", str(path)) if core is not None else [None] * len(vector["messages"])
    )
    for message, out in zip(vector["messages"], built, strict=True):
        expected = message["expected"]
        topic = expected.get("topic", topic_for(device_id, message["kind"]))
        payload = expected["payload"].encode() if "payload" in expected else None
        try:
            verdict = type(decode(topic, payload or naive_payload(device_id, message))).__name__
        except MessageError as err:
            verdict = f"rejected {err.reason}: {err.field}"
        rows.append(
            {
                "vector": path.stem,
                "kind": message["kind"],
                "expected": expected.get("error", "payload"),
                "core": None if out is None else out["error"] or "payload",
                "core_bytes_equal": None
                if out is None
                else out["payload"] == expected.get("payload"),
                "python_decoder": verdict,
            }
        )
        if out is not None and out["error"] is None:
            built_messages.append((out["topic"], out["payload"].encode()))
payloads = pd.DataFrame(rows)
good = payloads["expected"] == "payload"
refused_field = payloads["expected"].str.partition(":")[2]
assert not payloads.loc[good, "python_decoder"].str.startswith("rejected").any()
assert all(
    v.endswith(f) for v, f in zip(payloads.loc[~good, "python_decoder"], refused_field[~good])
)
if core is not None:
    assert (payloads["core"] == payloads["expected"]).all() and payloads.loc[
        good, "core_bytes_equal"
    ].all()
payloads

# %% [markdown]
# One payload as the device sends it: fields in the firmware's order, numbers in their shortest
# round-trip form, quantized to 1 mA, 0.01 °C and 1 mm/s², plus the per-device `seq`.

# %%
first = json.loads(PAYLOAD_VECTORS[-1].read_text())["messages"][0]
print(first["expected"]["payload"])
decode(first["expected"]["topic"], first["expected"]["payload"].encode())

# %% [markdown]
# And what the core builds goes into the lake through the same pipeline as any MQTT message:

# %%
if built_messages:
    topics, blobs = zip(*built_messages, strict=True)
    stored = Pipeline(Lake(LAKE)).process(
        list(topics), list(blobs), [1_700_000_001_000] * len(topics)
    )
    print("accepted", stored.accepted, "quarantined", dict(stored.quarantined))
    print(modax.connect(LAKE).sql("select device_id, seq, current_1, temp_1 from telemetry").df())

# %% [markdown]
# ## 3 · Safety vectors: core, kernel and expectation
#
# Each safety vector is a stream of readings from one device. The numba kernel takes them as a
# telemetry table (absent channels are null); the core takes the vector file. We compare the
# events — `(reading index, kind, state)` — of both with the vector's expectation.


# %%
def telemetry(readings):
    """A telemetry table of one device from vector readings (ts in ms)."""
    columns = {
        "device_id": ["v"] * len(readings),
        "ts": pa.array([r["ts"] for r in readings], pa.int64()).cast(pa.timestamp("ms", tz="UTC")),
    }
    for prefix, key in (("current", "motor_currents"), ("temp", "temperatures")):
        for k in range(MAX_CHANNELS):
            columns[f"{prefix}_{k + 1}"] = pa.array(
                [r[key][k] if k < len(r[key]) else None for r in readings], pa.float64()
            )
    for axis in ("x", "y", "z"):
        columns[f"vib_{axis}"] = [r["vibration"][axis] for r in readings]
    return pa.table(columns)


def kernel_events(vector):
    """``(reading index, kind, state)`` of the kernel's events on a vector's readings."""
    readings = vector["readings"]
    events = SafetyChecker(SafetyConfig.from_dict(vector["config"])).process(telemetry(readings))
    index = {r["ts"]: i for i, r in enumerate(readings)}
    ts_ms = pc.cast(events["ts"], pa.int64()).to_pylist()
    return sorted(
        (index[t], kind, state)
        for t, kind, state in zip(ts_ms, events["kind"].to_pylist(), events["state"].to_pylist())
        if kind in VECTOR_KINDS
    )


def core_events(path):
    """``(reading index, kind, state)`` of the C++ core's events on a vector file."""
    steps = run_core("safety", str(path))
    return sorted((i, e["kind"], e["state"]) for i, s in enumerate(steps) for e in s["events"])


summary = []
for path in SAFETY_VECTORS:
    vector = json.loads(path.read_text())
    expected = sorted((e["index"], e["kind"], e["state"]) for e in vector["events"])
    kernel = kernel_events(vector)
    summary.append(
        {
            "vector": path.stem.removeprefix("safety_"),
            "readings": len(vector["readings"]),
            "events": len(expected),
            "kernel_agrees": kernel == expected,
            "core_agrees": None if core is None else core_events(path) == expected,
            "description": vector["description"],
        }
    )
summary = pd.DataFrame(summary)
assert summary["kernel_agrees"].all() and summary["core_agrees"].dropna().all()
summary

# %% [markdown]
# Pick a vector to see its readings and where the rules switch (in a live notebook the menu is a
# Panel widget). Events are marked at the reading that triggered them: begin ▲, end ▼.

# %%
vectors = {p.stem.removeprefix("safety_"): json.loads(p.read_text()) for p in SAFETY_VECTORS}
choice = pn.widgets.Select(name="vector", options=list(vectors), value="combined")


def show(name):
    vector = vectors[name]
    frame = telemetry(vector["readings"]).to_pandas().dropna(axis="columns", how="all")
    frame["reading"] = range(len(frame))
    channels = [c for c in frame.columns if c.startswith(("current_", "temp_"))]
    events = pd.DataFrame(vector["events"], columns=["index", "kind", "state", "value"])
    events["value"] = events["value"].astype(float)
    events["marker"] = events["state"].map({"begin": "triangle", "end": "inverted_triangle"})
    lines = frame.hvplot.line(
        x="reading", y=channels, height=320, responsive=True, title=vector["description"]
    )
    marks = events.hvplot.scatter(
        x="index",
        y="value",
        by="kind",
        hover_cols=["state", "marker"],
        size=120,
        responsive=True,
        height=320,
    ).opts(hv.opts.Scatter(marker=hv.dim("marker")))
    return lines * marks


pn.Column(choice, pn.bind(show, choice))

# %% [markdown]
# Hand-written vectors pin down the edge cases; a long random stream checks everything in
# between. Currents wander around 10 A with unbalanced phases, temperatures around 85 °C, values
# hold for a while (so sensors look stuck), channels come and go and time has gaps. Core and
# kernel must produce the same events, reading for reading.

# %%
rng = np.random.default_rng(0)
readings, ts, current, temp = [], 0, 8.0, 80.0
for _ in range(2_000 if SMALL else 50_000):
    ts += int(rng.choice([100, 100, 100, 2500]))
    if rng.random() < 0.7:
        current = round(float(rng.normal(7.0, 4.0)), 1)
    if rng.random() < 0.5:
        temp = round(temp + 0.1 * (82.0 - temp) + float(rng.normal(0.3, 2.0)), 1)
    spread = round(float(rng.uniform(0.0, 0.7)), 2)
    currents = [round(current * (1.0 + spread * k), 3) for k in range(int(rng.choice([1, 2, 3])))]
    x, y, z = (round(float(v), 3) for v in rng.normal([0.0, 0.0, 9.81], 0.05))
    readings.append(
        {
            "ts": ts,
            "motor_currents": currents,
            "temperatures": [temp - 2.0 * k for k in range(int(rng.choice([1, 2])))],
            "vibration": {"x": x, "y": y, "z": z, "magnitude": math.hypot(x, y, z)},
        }
    )
stream = {"config": SafetyConfig(stuck_samples=5).to_dict(), "readings": readings}
stream_file = Path(f"{LAKE}-vectors") / "random-stream.json"
stream_file.parent.mkdir(exist_ok=True)
stream_file.write_text(json.dumps(stream))
kernel = kernel_events(stream)
print(
    f"{len(readings):,} readings, {len(kernel):,} kernel events:", Counter(k for _, k, _ in kernel)
)
if core is not None:
    assert core_events(stream_file) == kernel
    print("the C++ core produced exactly the same events")

# %% [markdown]
# ## 4 · The device in Wokwi
#
# [Wokwi](https://wokwi.com) simulates the ESP32 with its parts. `firmware/diagram.json` wires
# them like the real device:

# %%
diagram = json.loads((FIRMWARE / "diagram.json").read_text())
pd.DataFrame(
    [
        {"part": p["id"], "type": p["type"], "attributes": p.get("attrs", {})}
        for p in diagram["parts"]
    ]
)

# %% [markdown]
# Interactively: open `firmware/` in VS Code with the Wokwi extension, `pio run -e wokwi`, then
# *Wokwi: Start Simulator*; turn the potentiometers (motor currents), set the NTC's temperature,
# press E-STOP and DOOR, and watch the device publish to `broker.hivemq.com`.
#
# Automated, `modax wokwi run` uploads the firmware, plays a scenario in simulated time
# (overload at 12 s, 100 °C at 16 s, e-stop at 20 s, door open at 24 s, vibration from 28 s),
# records the serial port and every MQTT message, and judges the recording against
# `modax.schema` and the expected reactions:
#
# ```sh
# make wokwi                          # the runner's own venv
# cd firmware && pio run -e wokwi && cd ..
# export WOKWI_CLI_TOKEN=...          # https://wokwi.com/dashboard/ci
# modax wokwi run --record wokwi-run.jsonl
# ```
#
# It needs a token, network, PlatformIO's toolchain and the runner's venv; here is what this
# machine lacks (CI has no network and does not run it):

# %%
for need in missing_requirements(FIRMWARE.resolve()) or ["nothing: `modax wokwi run` can go"]:
    print("-", need)
