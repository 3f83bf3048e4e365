"""``panel serve`` entry point of the device dashboard (``modax dashboards`` serves it)."""

from modax.cli._dashboard_apps import device

if __name__.startswith("bokeh_app_"):  # run by the server; importing it builds nothing
    device().servable()
