"""Wear and remaining life of one device: the model's live estimate and the lake's history.

The live estimate comes from model advisories (``rul_h``); the history from the lake's
``remaining_life`` table (the simulator's true wear state: ``damage`` 0 … 1 and ``rul_s``) when
there is one, so a model's estimate can be read against the truth.
"""

from __future__ import annotations

import holoviews as hv
import numpy as np
import pandas as pd
import panel as pn

from modax.lake import LakeConnection
from modax.viz._backend import use_bokeh
from modax.viz._fleet import FleetState
from modax.viz._lttb import lttb
from modax.viz._periodic import every

__all__ = ["WearPanel", "wear_history"]


def wear_history(con: LakeConnection, device_id: str, max_points: int = 500) -> pd.DataFrame:
    """``time`` (UTC), ``damage`` (0 … 1) and ``rul_h`` (h) of a device from ``remaining_life``.

    Downsampled with LTTB on the damage curve; empty when the lake has no such table.

    Examples
    --------
    >>> import tempfile
    >>> from modax import connect
    >>> wear_history(connect(tempfile.mkdtemp()), "m1").empty
    True
    """
    columns = ["time", "damage", "rul_h"]
    if "remaining_life" not in con.tables:
        return pd.DataFrame(columns=columns)
    frame = con.execute(
        "select epoch_ms(ts) as t, damage, rul_s / 3600.0 as rul_h from remaining_life "
        "where device_id = $device order by ts",
        {"device": device_id},
    ).df()
    if frame.empty:
        return pd.DataFrame(columns=columns)
    keep = lttb(frame["t"].to_numpy(np.float64), frame["damage"].to_numpy(np.float64), max_points)
    frame = frame.iloc[keep]
    return pd.DataFrame(
        {
            "time": pd.to_datetime(frame["t"].to_numpy(), unit="ms", utc=True),
            "damage": frame["damage"].to_numpy(),
            "rul_h": frame["rul_h"].to_numpy(),
        }
    )


class WearPanel(pn.viewable.Viewer):
    """Remaining life (model estimate, live) and wear history (lake) of one device.

    Parameters
    ----------
    fleet : FleetState
        Live state (the model's ``rul_h`` and anomaly score from advisories).
    con : LakeConnection
        DuckDB over the lake.
    device_id : str
        The device.
    period_ms : int
        How often the live estimate is refreshed, in ms.

    Examples
    --------
    >>> import tempfile
    >>> from modax import connect
    >>> panel = WearPanel(FleetState(), connect(tempfile.mkdtemp()), "m1")
    >>> panel.rul.value
    '–'
    """

    def __init__(
        self,
        fleet: FleetState,
        con: LakeConnection,
        device_id: str,
        period_ms: int = 1000,
        **params: object,
    ) -> None:
        super().__init__(**params)
        use_bokeh()
        self.fleet = fleet
        self.con = con
        self.device_id = device_id
        self.rul = pn.indicators.String(label="Remaining life (model)", value="–", font_size="24pt")
        self.health = pn.indicators.String(label="Health (lake)", value="–", font_size="24pt")
        self.plot = pn.pane.HoloViews(hv.Div(""), sizing_mode="stretch_width")
        self.refresh_live()
        self.load()
        every(self.refresh_live, period_ms, self.rul)

    def refresh_live(self) -> None:
        """Show the newest model estimate."""
        if self.device_id in self.fleet.device_ids():
            rul = self.fleet.row(self.device_id)["rul_h"]
            self.rul.value = "–" if rul is None else f"{rul:.0f} h"

    def load(self) -> None:
        """Read the wear history from the lake."""
        frame = wear_history(self.con, self.device_id)
        if frame.empty:
            self.plot.object = hv.Div("<i>No wear history in the lake for this device.</i>")
            return
        last = frame.iloc[-1]
        self.health.value = f"{(1 - last['damage']) * 100:.0f} %"
        frame["time"] = frame["time"].dt.tz_localize(None)
        damage = hv.Curve(frame, "time", ("damage", "damage (0 new … 1 failed)")).opts(
            color="#6a1b9a"
        )
        rul = hv.Curve(frame, "time", ("rul_h", "true remaining life (h)")).opts(color="#00838f")
        self.plot.object = (damage + rul).opts(
            hv.opts.Curve(responsive=True, height=180, xlabel="time (UTC)")
        )

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(pn.Row(self.rul, self.health), self.plot, sizing_mode="stretch_width")
