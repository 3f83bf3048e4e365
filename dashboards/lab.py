"""Model lab: detectors and remaining-life models on SKAB, the lake or the simulator
(``panel serve dashboards/lab.py``)."""

from pathlib import Path

import panel as pn

import modax
import simulator
from modax.models.anomaly import device_series
from modax.viz import ModelLab

pn.extension("tabulator", notifications=True)

DATA = Path(__file__).resolve().parent.parent / "data"


def simulate(scenario: str, devices: int, duration_s: float, seed: int) -> list:
    """Labelled 1 s series of a freshly simulated fleet (ground truth from the simulator)."""
    result = simulator.Fleet(n_devices=devices, seed=seed, scenario=scenario).run(duration_s)
    return device_series(result.telemetry, result.labels()["anomaly"])


lab = ModelLab(
    modax.connect(), DATA, simulate=simulate, scenarios=tuple(simulator.list_scenarios())
)

pn.template.FastListTemplate(title="modax · model lab", main=[lab], accent="#1565c0").servable()
