"""Model lab: detectors and remaining-life models on SKAB, the lake or the simulator
(``panel serve dashboards/lab.py``)."""

from modax.cli._dashboard_apps import lab

lab().servable()
