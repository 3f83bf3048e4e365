# %% [markdown]
# # 01 · Quickstart: a simulated fleet, the lake, and DuckDB
#
# This notebook is the five-minute tour of modax in Python. We
#
# 1. simulate a small fleet of ESP32-monitored motors (the digital twin, no hardware needed),
# 2. store it in the **lake** — Delta tables, the same path live MQTT ingestion takes,
# 3. query it with **DuckDB** through `modax.connect()`, and
# 4. plot one device.
#
# Run it top to bottom. `SMALL = True` (what the test suite uses) makes everything tiny and fast.

# %% tags=["parameters"]
SMALL = False
LAKE = "lake-quickstart"

# %%
# Panel and HoloViews with their JavaScript inline (before anything plots, hvPlot included): the
# plots render in JupyterLab and VS Code also without internet access.
import modax.viz

modax.viz.extension()

# %%
import shutil

import hvplot.pandas  # noqa: F401  (registers .hvplot on DataFrames)
from tqdm import tqdm

import modax
import simulator
from modax.lake import Lake
from modax.pipeline import Pipeline

n_devices = 3 if SMALL else 20
duration_s = 60 if SMALL else 600
shutil.rmtree(LAKE, ignore_errors=True)  # start from an empty lake each run

# %% [markdown]
# ## 1 · Simulate
#
# `simulator.Fleet` builds `n_devices` motors, each with its own size, ambient temperature and
# load profile drawn from the seed. The `mixed-faults` scenario injects bearing wear, overloads,
# sensor faults and more — and records every fault in a **ground truth** table. The same seed
# gives the same data, bit for bit.

# %%
fleet = simulator.Fleet(n_devices=n_devices, seed=7, scenario="mixed-faults")
with tqdm(total=duration_s, unit="sim s", desc="simulating") as bar:  # simulated seconds done
    result = fleet.run(duration_s=duration_s, progress=bar.update)
print(f"{result.telemetry.num_rows:,} readings from {n_devices} devices over {duration_s} s")
result.ground_truth.to_pandas().head()

# %% [markdown]
# ## 2 · Store in the lake
#
# `Pipeline.store` takes the batch through the same steps as live messages: duplicates removed
# on `(device_id, seq)`, safety kernels and windowed aggregation, one atomic Delta commit per
# table. Storing it twice adds nothing.

# %%
lake = Lake(LAKE)
pipeline = Pipeline(lake)
stored = pipeline.store(result.telemetry, result.device_safety)
pipeline.close()
lake.append("ground_truth", result.ground_truth)
again = Pipeline(lake).store(result.telemetry, result.device_safety)
print("rows written:", dict(stored.rows))
print("second time: accepted", again.accepted, "duplicates", again.duplicates)

# %% [markdown]
# ## 3 · Query with DuckDB
#
# `modax.connect()` gives a DuckDB connection with one view per lake table, over the table's
# current snapshot (no copy). Timestamps are UTC.

# %%
con = modax.connect(LAKE)
print("tables:", con.tables)
con.sql(
    """
    select device_id, count(*) as readings,
           round(avg(current_1), 2) as mean_current_a,
           round(max(temp_1), 1) as max_temp_c
    from telemetry group by device_id order by device_id
    """
).df()

# %% [markdown]
# ## 4 · Plot a device
#
# The device with the highest peak current is the interesting one.

# %%
device = con.sql(
    "select device_id from telemetry order by current_1 desc limit 1"
).fetchall()[0][0]
frame = con.sql(
    f"select ts, current_1, current_2, temp_1, vib_mag from telemetry "
    f"where device_id = '{device}' order by ts"
).df()
frame.hvplot.line(
    x="ts", y=["current_1", "current_2"], ylabel="current (A)", title=f"{device}: motor currents",
    height=300, responsive=True,
) + frame.hvplot.line(x="ts", y="temp_1", ylabel="°C", title="temperature", height=300, responsive=True)
