"""A time-range picker and downsampled plots of a device's history from the lake."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import holoviews as hv
import pandas as pd
import panel as pn

from modax.lake import LakeConnection
from modax.viz._backend import use_bokeh
from modax.viz._cells import html_text
from modax.viz._history import history
from modax.viz._live_plots import CHANNEL_GROUPS

__all__ = ["HistoryView"]


class HistoryView(pn.viewable.Viewer):
    """Pick a time range, read it through ``modax.connect()`` and plot it downsampled (LTTB).

    Parameters
    ----------
    con : LakeConnection
        DuckDB over the lake.
    device_id : str
        The device.
    max_points : int
        Points per channel at most, whatever the range.

    Examples
    --------
    >>> import tempfile
    >>> from modax import connect
    >>> view = HistoryView(connect(tempfile.mkdtemp()), "m1")
    >>> view.load()
    0
    """

    def __init__(
        self, con: LakeConnection, device_id: str, max_points: int = 2000, **params: object
    ) -> None:
        super().__init__(**params)
        use_bokeh()
        self.con = con
        self.device_id = device_id
        self.max_points = max_points
        end = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
        self.range = pn.widgets.DatetimeRangePicker(
            label="Time range (UTC)", value=(end - timedelta(hours=1), end)
        )
        self.button = pn.widgets.Button(label="Load history", color="primary")
        self.button.on_click(lambda _event: self.load())
        self.summary = pn.pane.HTML("")
        self.plot = pn.pane.HoloViews(hv.Div("Pick a range and load."), sizing_mode="stretch_width")

    def load(self) -> int:
        """Read the picked range and plot it; returns the number of points drawn."""
        start, end = (t.replace(tzinfo=UTC) for t in self.range.value)
        self.con.refresh()
        frame = history(self.con, self.device_id, start, end, max_points=self.max_points)
        if frame.empty:
            self.summary.object = (
                f"No readings of {html_text(self.device_id)} between {start} and {end}."
            )
            self.plot.object = hv.Div("")
            return 0
        frame["time"] = frame["time"].dt.tz_localize(None)
        panels = []
        for title, label, channels, _limit in CHANNEL_GROUPS:
            curves = [
                hv.Curve(frame[frame["channel"] == c], "time", ("value", label), label=c)
                for c in channels
                if (frame["channel"] == c).any()
            ]
            if curves:
                panels.append(hv.Overlay(curves).opts(title=f"{title} (history)"))
        self.plot.object = (
            hv.Layout(panels)
            .cols(1)
            .opts(hv.opts.Curve(responsive=True, height=180, xlabel="time (UTC)"))
        )
        self.summary.object = (
            f'<span class="modax-history-points">{len(frame)}</span> points drawn '
            f"from {pd.Timestamp(start):%Y-%m-%d %H:%M} to {pd.Timestamp(end):%Y-%m-%d %H:%M} UTC "
            f"(at most {self.max_points} per channel, LTTB)"
        )
        return len(frame)

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(
            pn.Row(self.range, self.button), self.summary, self.plot, sizing_mode="stretch_width"
        )
