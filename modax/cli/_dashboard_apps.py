"""The three dashboards as functions, one Panel page per browser session.

``modax dashboards`` serves them through the scripts in ``modax/cli/_serve/`` (shipped in the
package, so a wheel install serves them too); ``dashboards/*.py`` are the same entry points for
``panel serve`` in a source checkout.
"""

from __future__ import annotations

from pathlib import Path

import panel as pn

import simulator
from modax.lake import connect
from modax.models.anomaly import device_series
from modax.viz import FleetOverview, ModelLab, device_page, page, shared_feed

__all__ = ["device", "fleet", "lab"]

#: The sample data sets of a source checkout (SKAB, C-MAPSS) the model lab offers.
DATA = Path(__file__).resolve().parents[2] / "data"


def fleet() -> pn.template.FastListTemplate:
    """Fleet overview: every device live, KPIs, event feed."""
    pn.extension("tabulator")
    return page("fleet", "fleet", FleetOverview(shared_feed().fleet))


def device() -> pn.template.FastListTemplate:
    """Device drill-down for ``/device?id=<device>``."""
    pn.extension("tabulator")
    requested = pn.state.session_args.get("id", [b""])[0].decode(errors="replace")
    title, body = device_page(shared_feed().fleet, connect, requested)
    return page("device", title, body)


def _simulate(scenario: str, devices: int, duration_s: float, seed: int) -> list:
    """Labelled 1 s series of a freshly simulated fleet (ground truth from the simulator)."""
    result = simulator.Fleet(n_devices=devices, seed=seed, scenario=scenario).run(duration_s)
    return device_series(result.telemetry, result.labels()["anomaly"])


def lab() -> pn.template.FastListTemplate:
    """Model lab: detectors and remaining-life models on SKAB, the lake or the simulator."""
    pn.extension("tabulator", notifications=True)
    model_lab = ModelLab(
        connect(),
        DATA,
        simulate=_simulate,
        scenarios=tuple(simulator.list_scenarios()),
    )
    return page("lab", "model lab", model_lab)
