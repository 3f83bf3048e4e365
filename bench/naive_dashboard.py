"""The peer of ``bench/dashboard.py``: the dashboard most people write first.

Each browser session opens its own MQTT subscription, decodes every message with
``modax.schema.decode``, keeps a row per device and replaces the whole table (client-side
pagination) twice a second. Same columns and the same device filter as the modax fleet table, so
the benchmark's probe finds values the same way in both.

    MODAX_BROKER=mqtt://127.0.0.1:1883 panel serve bench/naive_dashboard.py
"""

import os
import uuid

import paho.mqtt.client as mqtt
import pandas as pd
import panel as pn

from modax.config import parse_broker_url
from modax.schema import MessageError, Telemetry, decode

pn.extension("tabulator")

rows: dict[str, dict[str, object]] = {}


def on_message(_client: object, _userdata: object, message: mqtt.MQTTMessage) -> None:
    try:
        msg = decode(message.topic, message.payload)
    except MessageError:
        return
    if isinstance(msg, Telemetry):
        currents = msg.motor_currents
        rows[msg.device_id] = {
            "device_id": msg.device_id,
            "current_1": round(currents[0], 3),
            "current_2": round(currents[1], 3) if len(currents) > 1 else None,
            "temp_max": max(msg.temperatures),
        }


url = parse_broker_url(os.environ.get("MODAX_BROKER", "mqtt://localhost:1883"))
client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"naive-{uuid.uuid4().hex[:8]}")
client.on_message = on_message
client.on_connect = lambda c, *_: c.subscribe("modax/devices/+/telemetry")
client.connect(url.host, url.port)
client.loop_start()
pn.state.on_session_destroyed(lambda _ctx: (client.loop_stop(), client.disconnect()))

search = pn.widgets.TextInput(label="Device", placeholder="filter by device id")
table = pn.widgets.Tabulator(
    pd.DataFrame(columns=["device_id", "current_1", "current_2", "temp_max"]),
    pagination="local",
    page_size=25,
    show_index=False,
    disabled=True,
)
table.add_filter(
    pn.bind(
        lambda df, pattern: df[df["device_id"].str.contains(pattern)] if pattern else df,
        pattern=search,
    )
)


def refresh() -> None:
    table.value = pd.DataFrame(list(rows.values()))


pn.state.add_periodic_callback(refresh, period=500)
pn.Column(search, table).servable()
