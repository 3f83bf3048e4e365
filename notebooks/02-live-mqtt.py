# %% [markdown]
# # 02 · Live MQTT: broker, simulated devices, ingestion and a live plot
#
# In production, ESP32 devices publish JSON over MQTT and `modax ingest` stores every message in
# the lake. Here we run that whole chain on this machine, from Python:
#
# ```
# simulated ESP32 fleet ──► MQTT broker ──► Ingester ──► lake (Delta) ──► DuckDB
#   (LivePublisher)         (embedded)        │  safety kernel
#                                             └─► modax/devices/{id}/events ──► this notebook
# ```
#
# We start an embedded broker, connect the ingester, **watch a live plot** fed straight from
# MQTT while the fleet publishes, drive one motor into overload and see the **safety event**
# the ingester derives and publishes. At the end everything is stopped, and the lake holds
# every reading exactly once.

# %% tags=["parameters"]
SMALL = False
LAKE = "lake-live"

# %%
# Panel and HoloViews with their JavaScript inline (before anything plots, hvPlot included): the
# plots render in JupyterLab and VS Code also without internet access.
import modax.viz

modax.viz.extension()

# %%
import queue
import shutil
import threading
from datetime import UTC, datetime

import holoviews as hv
import msgspec
import paho.mqtt.client as mqtt
import pandas as pd

import modax
import simulator
from modax.local import start_broker
from modax.ingest import Ingester, IngestOptions
from modax.schema import Kind, decode, parse_topic
from modax.testing import free_port, wait_for
from simulator import LivePublisher

n_devices = 3 if SMALL else 10
duration_s = 20 if SMALL else 120  # simulated seconds
speed = 4.0 if SMALL else 1.0  # simulated seconds per wall second
shutil.rmtree(LAKE, ignore_errors=True)  # start from an empty lake each run

# %% [markdown]
# ## 1 · A broker and the ingester
#
# `start_broker` runs mosquitto when it is installed (otherwise the pure-Python amqtt) on a
# free port, with a throw-away configuration. The `Ingester` subscribes with QoS 1 on a
# persistent session and acknowledges a message only once the lake commit that holds it has
# succeeded: at-least-once delivery, deduplicated on `(device_id, seq)`.

# %%
broker = start_broker(free_port())
ingester = Ingester(broker.url, LAKE, options=IngestOptions(batch_s=0.2)).start()
ingester.wait_connected()
print(broker, "— ingester connected:", ingester.connected)

# %% [markdown]
# ## 2 · Watch the wire
#
# A second MQTT client, in this notebook, listens to the telemetry and to the safety events the
# ingester publishes on `modax/devices/{id}/events`. Its messages go through the same contract
# every component uses, `modax.schema.decode`. Paho calls us on its network thread, so we only
# put messages into a queue there; the plot is updated from the notebook's thread.

# %%
inbox: queue.SimpleQueue = queue.SimpleQueue()
events: list[dict] = []
watching = threading.Event()


def on_connect(client, userdata, flags, reason, properties):
    client.subscribe([("modax/devices/+/telemetry", 0), ("modax/devices/+/events", 1)])


def on_subscribe(client, userdata, mid, reasons, properties):
    watching.set()


def on_message(client, userdata, message):
    kind, _device = parse_topic(message.topic)
    if kind is Kind.EVENTS:
        events.append(msgspec.json.decode(message.payload))
    elif kind is Kind.TELEMETRY:
        inbox.put(decode(message.topic, message.payload))


watcher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="notebook-watcher")
watcher.on_connect, watcher.on_subscribe, watcher.on_message = on_connect, on_subscribe, on_message
watcher.connect(broker.host, broker.port)
watcher.loop_start()
wait_for(watching.is_set, 10.0, "the watcher's subscription")
print("watching", broker.url)

# %% [markdown]
# ## 3 · A live plot
#
# A HoloViews `Buffer` keeps the last readings and redraws the plot each time we `send` rows to
# it. We show the motor currents of the device we are about to overload, and the 10 A safety
# limit. (Time on the x axis is UTC.)

# %%
fleet = simulator.Fleet(
    n_devices=n_devices, seed=11, scenario="healthy", start=datetime.now(UTC), prefix="live"
)
target = fleet.device_ids[0]
fleet.inject(target, "overload", start_s=duration_s * 0.3, duration_s=duration_s * 0.3)

empty = pd.DataFrame({"time": pd.to_datetime([]), "current_1": [], "current_2": []})
buffer = hv.streams.Buffer(empty, length=10 * duration_s, index=False)
live = hv.DynamicMap(
    lambda data: (
        hv.Curve(data, "time", "current_1", label="current_1")
        * hv.Curve(data, "time", "current_2", label="current_2")
    ),
    streams=[buffer],
).opts(hv.opts.Curve(height=300, responsive=True, ylabel="current (A)", title=target))
live * hv.HLine(10.0).opts(color="red", line_dash="dashed")

# %% [markdown]
# ## 4 · Publish live
#
# `LivePublisher` connects one MQTT client per simulated device — each with its own last will —
# and publishes telemetry at 10 Hz (× `speed`) and safety messages, as the firmware does. It runs
# on a thread; meanwhile this cell moves readings from the queue to the plot. Scroll up to watch
# the plot move while the cell runs.

# %%
publisher = LivePublisher(fleet, broker.host, broker.port, speed=speed, qos=1)
stats = {}
publishing = threading.Thread(target=lambda: stats.update(run=publisher.run(duration_s)))
publishing.start()


def rows(readings):
    return pd.DataFrame(
        {
            "time": pd.to_datetime([r.timestamp for r in readings], unit="ms"),
            "current_1": [r.motor_currents[0] for r in readings],
            "current_2": [r.motor_currents[1] for r in readings],
        }
    )


seen = 0
while publishing.is_alive() or not inbox.empty():
    try:
        batch = [inbox.get(timeout=0.5)]
    except queue.Empty:
        continue
    while not inbox.empty():
        batch.append(inbox.get())
    seen += len(batch)
    mine = [r for r in batch if r.device_id == target]
    if mine:
        buffer.send(rows(mine))
publishing.join()
published = stats["run"].published
print(f"published {published}; the notebook saw {seen} telemetry messages")

# %% [markdown]
# ## 5 · The safety event
#
# The ingester ran the safety kernel on every micro-batch: when `current_1` went above 10 A it
# wrote an `overload` **begin** row to the lake's `safety_events` and published it on
# `modax/devices/{target}/events`; when the current fell back, an **end** row. We wait for both
# to arrive (a condition with a timeout, never a blind sleep).


# %%
def overload(state):
    return [e for e in events if e["kind"] == "overload" and e["state"] == state]


wait_for(lambda: overload("begin") and overload("end"), 30.0, "the overload begin and end")
pd.DataFrame(events).assign(ts=lambda e: pd.to_datetime(e["ts"], unit="ms", utc=True))

# %% [markdown]
# ## 6 · Stop, then query the lake
#
# We wait until the ingester has stored every reading that was published, then stop it: it
# commits what waits, acknowledges it and disconnects. Nothing was lost and nothing stored twice.

# %%
wait_for(lambda: ingester.totals.rows["telemetry"] >= published["telemetry"], 60.0, "every reading")
totals = ingester.stop()
watcher.loop_stop()
watcher.disconnect()
broker.close()
print("accepted", totals.accepted, "duplicates", totals.duplicates, "rows", dict(totals.rows))

# %%
con = modax.connect(LAKE)
con.sql(
    """
    select device_id, count(*) as readings, count(distinct seq) as distinct_seq,
           round(max(current_1), 2) as peak_current_a
    from telemetry group by device_id order by device_id
    """
).df()

# %%
con.sql("select device_id, ts, kind, state, value, threshold from safety_events order by ts").df()

# %% [markdown]
# The same chain runs from the command line, one process each:
#
# ```sh
# modax broker                                   # embedded broker on :1883
# modax ingest                                   # MQTT → lake (MODAX_BROKER, MODAX_LAKE)
# modax simulate --mqtt mqtt://localhost:1883 --devices 10 --speed 1
# ```
#
# or all at once, with the dashboards, with `make demo`.
