"""Device drill-down: ``panel serve dashboards/device.py``, then open ``/device?id=<device>``."""

from modax.cli._dashboard_apps import device

device().servable()
