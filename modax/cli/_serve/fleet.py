"""``panel serve`` entry point of the fleet dashboard (``modax dashboards`` serves it)."""

from modax.cli._dashboard_apps import fleet

if __name__.startswith("bokeh_app_"):  # run by the server; importing it builds nothing
    fleet().servable()
