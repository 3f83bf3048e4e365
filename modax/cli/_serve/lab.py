"""``panel serve`` entry point of the lab dashboard (``modax dashboards`` serves it)."""

from modax.cli._dashboard_apps import lab

if __name__.startswith("bokeh_app_"):  # run by the server; importing it builds nothing
    lab().servable()
