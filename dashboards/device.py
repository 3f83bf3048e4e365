"""Device drill-down: ``panel serve dashboards/device.py``, then open ``/device?id=<device>``."""

import panel as pn

import modax
from modax.viz import device_page, shared_feed

pn.extension("tabulator")

requested = pn.state.session_args.get("id", [b""])[0].decode(errors="replace")
title, body = device_page(shared_feed().fleet, modax.connect, requested)

pn.template.FastListTemplate(title=f"modax · {title}", main=[body], accent="#1565c0").servable()
