"""Fleet overview: every device live, KPIs, event feed (``panel serve dashboards/fleet.py``)."""

from modax.cli._dashboard_apps import fleet

fleet().servable()
