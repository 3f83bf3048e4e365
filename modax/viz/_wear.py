"""Wear and remaining life of one device: the model's estimates over time and the truth beside it.

A registered remaining-life model's estimates, with their interval (nominal 80 %), come from the
lake's ``remaining_life_estimates`` table (what the advisor wrote) and, newer than that, from live
advisories (``rul_h``, ``rul_low_h``, ``rul_high_h``); for a simulated device the lake's
``remaining_life`` table (the simulator's true wear state: ``damage`` 0 … 1 and ``rul_s``) is
drawn beside them, so a model's estimate can be read against the truth.
"""

from __future__ import annotations

import holoviews as hv
import numpy as np
import pandas as pd
import panel as pn

from modax.lake import LakeConnection
from modax.viz._backend import use_bokeh
from modax.viz._cells import html_text, rul_text
from modax.viz._fleet import FleetState
from modax.viz._lttb import lttb
from modax.viz._periodic import every

__all__ = ["ESTIMATE_COLUMNS", "WearPanel", "estimate_history", "wear_history"]

#: Columns of :func:`estimate_history`.
ESTIMATE_COLUMNS = ["time", "rul_h", "rul_low_h", "rul_high_h", "rul_cap_h", "model", "version"]


def estimate_history(con: LakeConnection, device_id: str, max_points: int = 500) -> pd.DataFrame:
    """A device's remaining-life estimates from the lake's ``remaining_life_estimates`` table.

    Columns :data:`ESTIMATE_COLUMNS`: ``time`` (UTC), the estimate, its interval and the model's
    cap (h), the model's name and version. Downsampled with LTTB on the estimate; empty when the
    lake has no such table.

    Examples
    --------
    >>> import tempfile
    >>> from modax import connect
    >>> estimate_history(connect(tempfile.mkdtemp()), "m1").empty
    True
    """
    if "remaining_life_estimates" not in con.tables:
        return pd.DataFrame(columns=ESTIMATE_COLUMNS)
    frame = con.execute(
        "select epoch_ms(ts) as t, rul_h, rul_low_h, rul_high_h, rul_cap_h, model, version "
        "from remaining_life_estimates where device_id = $device and rul_h is not null "
        "order by ts",
        {"device": device_id},
    ).df()
    if frame.empty:
        return pd.DataFrame(columns=ESTIMATE_COLUMNS)
    keep = lttb(frame["t"].to_numpy(np.float64), frame["rul_h"].to_numpy(np.float64), max_points)
    frame = frame.iloc[keep].reset_index(drop=True)
    frame.insert(0, "time", pd.to_datetime(frame.pop("t").to_numpy(), unit="ms", utc=True))
    return frame[ESTIMATE_COLUMNS]


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
    """Remaining life (model estimates with their interval, lake and live) and wear of a device.

    Parameters
    ----------
    fleet : FleetState
        Live state (the model's ``rul_h`` and its interval from advisories).
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
        self.rul = pn.indicators.String(
            label="Remaining life (model, 80 % interval)", value="–", font_size="24pt"
        )
        self.health = pn.indicators.String(label="Health (lake)", value="–", font_size="24pt")
        self.about = pn.pane.HTML("", sizing_mode="stretch_width")
        self.plot = pn.pane.HoloViews(hv.Div(""), sizing_mode="stretch_width")
        self.estimates = pd.DataFrame(columns=ESTIMATE_COLUMNS)
        self.truth = pd.DataFrame(columns=["time", "damage", "rul_h"])
        self._live_drawn = -1
        self.load()
        every(self.refresh_live, period_ms, self.rul)

    def _live(self) -> pd.DataFrame:
        """Live estimates newer than the lake's (the advisor writes them to the lake too)."""
        rows = self.fleet.remaining_life(self.device_id)
        if len(self.estimates):
            newest = self.estimates["time"].iloc[-1].value // 1_000_000
            rows = [r for r in rows if r[0] > newest]
        frame = pd.DataFrame(rows, columns=["t", "rul_h", "rul_low_h", "rul_high_h"], dtype=float)
        frame.insert(0, "time", pd.to_datetime(frame.pop("t").to_numpy(), unit="ms", utc=True))
        return frame

    def refresh_live(self) -> None:
        """Show the newest model estimate, and draw live estimates the plot lacks."""
        if self.device_id not in self.fleet.device_ids():
            return
        row = self.fleet.row(self.device_id)
        if row["rul_h"] is not None:
            estimate = [row[f"rul{part}_h"] for part in ("", "_low", "_high", "_cap")]
            self.rul.value = rul_text(*estimate, unit=" h")
        live = len(self.fleet.remaining_life(self.device_id))
        if live != self._live_drawn:
            self._live_drawn = live
            self._draw()

    def load(self) -> None:
        """Read the model's estimates and the true wear from the lake, and draw them."""
        self.estimates = estimate_history(self.con, self.device_id)
        self.truth = wear_history(self.con, self.device_id)
        if len(self.truth):
            self.health.value = f"{(1 - self.truth['damage'].iloc[-1]) * 100:.0f} %"
        if len(self.estimates):
            last = self.estimates.iloc[-1]
            self.rul.value = rul_text(*last[ESTIMATE_COLUMNS[1:5]], unit=" h")
            self.about.object = (
                f'Estimates of <span class="modax-rul-model">{html_text(last["model"])} '
                f"v{html_text(last['version'])}</span> (advisory), shaded: its 80 % interval."
            )
        self._live_drawn = -1
        self.refresh_live()
        self._draw()

    def _draw(self) -> None:
        frames = [self.estimates.drop(columns=["model", "version"]), self._live()]
        frames = [f for f in frames if len(f)]
        estimates = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
        if estimates.empty and self.truth.empty:
            self.plot.object = hv.Div("<i>No remaining-life estimates or wear history yet.</i>")
            return
        life: list[hv.Element] = []
        if len(estimates):
            estimates["time"] = estimates["time"].dt.tz_localize(None)
            band = hv.Area(
                estimates,
                "time",
                [("rul_low_h", "remaining life (h)"), "rul_high_h"],
                label="80 % interval",
            ).opts(color="#ef6c00", alpha=0.25, line_alpha=0)
            curve = hv.Curve(
                estimates, "time", ("rul_h", "remaining life (h)"), label="model estimate"
            ).opts(color="#ef6c00")
            life += [band, curve]
        plots = []
        truth = self.truth.assign(time=self.truth["time"].dt.tz_localize(None))
        if len(truth):
            life.append(
                hv.Curve(truth, "time", ("rul_h", "remaining life (h)"), label="true (twin)").opts(
                    color="#00838f", line_dash="dashed"
                )
            )
        plots.append(hv.Overlay(life).opts(title="Remaining life", legend_position="right"))
        if len(truth):
            damage = hv.Curve(truth, "time", ("damage", "damage (0 new … 1 failed)"))
            plots.append(damage.opts(color="#6a1b9a", title="Wear (twin)"))
        self.plot.object = (
            hv.Layout(plots)
            .cols(1)
            .opts(
                hv.opts.Curve(responsive=True, height=200, xlabel="time (UTC)"),
                hv.opts.Area(responsive=True, height=200),
                hv.opts.Overlay(responsive=True, height=220),
            )
        )

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(
            pn.Row(self.rul, self.health), self.about, self.plot, sizing_mode="stretch_width"
        )
