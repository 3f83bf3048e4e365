"""Device drill-down: ``panel serve dashboards/device.py``, then open ``/device?id=<device>``."""

import panel as pn

import modax
from modax.viz import DeviceView, device_picker, shared_feed

pn.extension("tabulator")

fleet = shared_feed().fleet
device_id = pn.state.session_args.get("id", [b""])[0].decode()
body = DeviceView(fleet, modax.connect(), device_id) if device_id else device_picker(fleet)

pn.template.FastListTemplate(
    title=f"modax · {device_id or 'devices'}", main=[body], accent="#1565c0"
).servable()
