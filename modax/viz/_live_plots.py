"""Streaming plots of one device: currents, vibration, temperatures and anomaly scores.

Readings go into HoloViews ``Buffer`` streams, so each refresh sends only the new points over the
websocket (Bokeh ``stream``). Safety alarms are drawn as spans, limits as dashed lines. The plots
share their time axis and show the recent window: alarm spans and the lake's score history are
clipped to it, so an alarm an hour old does not squeeze the live readings into a sliver.
"""

from __future__ import annotations

from datetime import UTC, datetime

import holoviews as hv
import holoviews.plotting.bokeh
import numpy as np
import pandas as pd
import panel as pn

from modax.lake import LakeConnection
from modax.schema import TELEMETRY_CHANNELS
from modax.viz._alarms import now_ms
from modax.viz._backend import use_bokeh
from modax.viz._fleet import OVERLOAD_CURRENT_A, OVERTEMP_C, FleetState
from modax.viz._periodic import every

__all__ = ["CHANNEL_GROUPS", "LivePlots"]

#: The plots and their channels: (title, y label, channels, limit or None).
CHANNEL_GROUPS: tuple[tuple[str, str, tuple[str, ...], float | None], ...] = (
    ("Motor currents", "current (A)", ("current_1", "current_2"), OVERLOAD_CURRENT_A),
    ("Vibration", "acceleration (m/s²)", ("vib_x", "vib_y", "vib_z", "vib_mag"), None),
    ("Temperatures", "temperature (°C)", ("temp_1", "temp_2"), OVERTEMP_C),
)
_SAFETY = frozenset({"safety", "device", "live-rule"})


def _frame(times: np.ndarray, values: np.ndarray) -> pd.DataFrame:
    frame = pd.DataFrame(values, columns=list(TELEMETRY_CHANNELS))
    frame.insert(0, "time", pd.to_datetime(times, unit="ms"))
    return frame


class LivePlots(pn.viewable.Viewer):
    """Live plots of one device fed from a :class:`FleetState`.

    Parameters
    ----------
    fleet : FleetState
        The live state.
    device_id : str
        The device.
    length : int
        Points kept in the browser per plot.
    period_ms : int
        Refresh period, in ms.
    con : LakeConnection, optional
        DuckDB over the lake: the device's anomaly scores of the window from its ``scores``
        table are shown with the live ones.
    window_s : float
        The recent window the plots show, in s (alarm spans and scores are clipped to it).

    Examples
    --------
    >>> plots = LivePlots(FleetState(), "m1")
    >>> plots.points
    0
    """

    def __init__(
        self,
        fleet: FleetState,
        device_id: str,
        length: int = 3000,
        period_ms: int = 500,
        con: LakeConnection | None = None,
        window_s: float = 300.0,
        **params: object,
    ) -> None:
        super().__init__(**params)
        self.fleet = fleet
        self.device_id = device_id
        self.window_ms = int(window_s * 1000)
        self.points = 0
        self._cursor = 0
        self._alarm_version = -1
        self._last_score_ts = -1
        self._latest_ms = 0
        self._spans_to_clip = False
        self._lake_scores = _score_history(con, device_id, self.window_ms)
        self.buffer = hv.streams.Buffer(_frame(np.empty(0, np.int64), np.empty((0, 12))), length)
        self.spans = hv.streams.Pipe(data=pd.DataFrame({"start": [], "end": []}))
        self.scores = hv.streams.Pipe(data=pd.DataFrame({"time": [], "score": []}))
        self.status = pn.pane.HTML("", sizing_mode="stretch_width")
        use_bokeh()
        self.plots = self._layout()
        self.refresh()
        every(self.refresh, period_ms, self.status)

    def _layout(self) -> hv.Layout:
        spans = hv.DynamicMap(
            lambda data: hv.VSpans(
                (pd.to_datetime(data["start"], unit="ms"), pd.to_datetime(data["end"], unit="ms"))
            ).opts(color="#c62828", alpha=0.15),
            streams=[self.spans],
        )
        panels = []
        for title, label, channels, limit in CHANNEL_GROUPS:

            def curves(
                data: pd.DataFrame, channels: tuple[str, ...] = channels, label: str = label
            ) -> hv.Overlay:
                return hv.Overlay([hv.Curve(data, "time", (c, label), label=c) for c in channels])

            plot = hv.DynamicMap(curves, streams=[self.buffer]) * spans
            if limit is not None:
                plot = plot * hv.HLine(limit).opts(color="#c62828", line_dash="dashed")
            panels.append(plot.opts(title=title))
        score = hv.DynamicMap(
            lambda data: hv.Scatter(data, "time", ("score", "anomaly score")),
            streams=[self.scores],
        )
        panels.append((score * spans).opts(title="Anomaly score (advisory)"))
        return (
            hv.Layout(panels)
            .cols(1)
            .opts(
                hv.opts.Curve(line_width=1.2, tools=["hover"]),
                hv.opts.Scatter(color="#ef6c00", size=5),
                hv.opts.Overlay(
                    responsive=True, height=220, xlabel="time (UTC)", legend_position="right"
                ),
            )
        )

    def refresh(self) -> None:
        """Send readings that arrived since the last refresh (and alarms/scores that changed)."""
        self._cursor, times, values = self.fleet.readings(self.device_id, self._cursor)
        if len(times):
            self.buffer.send(_frame(times, values))
            self.points += len(times)
            self._latest_ms = max(self._latest_ms, int(times[-1]))
        scores = self.fleet.scores(self.device_id)
        if scores:
            self._latest_ms = max(self._latest_ms, scores[-1][0])
        log = self.fleet.alarms
        if log.version != self._alarm_version or (self._spans_to_clip and len(times)):
            self._alarm_version = log.version
            self._show_spans(self._latest_ms or now_ms())
        newest = scores[-1][0] if scores else self._lake_scores[-1][0] if self._lake_scores else -1
        if newest != self._last_score_ts:
            self._last_score_ts = newest
            self._show_scores(scores)
        self._show_status(times, values)

    def _show_spans(self, latest_ms: int) -> None:
        """Safety alarms of the device as spans, clipped to the window ending at ``latest_ms``."""
        floor = latest_ms - self.window_ms
        alarms = [
            a
            for a in self.fleet.alarms.alarms()
            if a.device_id == self.device_id
            and a.source in _SAFETY
            and (a.active or (a.cleared_ms or 0) >= floor)
        ]
        self._spans_to_clip = bool(alarms)  # as the window moves, they are clipped again
        starts = [max(a.raised_ms, floor) for a in alarms]
        ends = [latest_ms if a.active else a.cleared_ms for a in alarms]
        self.spans.send(pd.DataFrame({"start": starts, "end": ends}))

    def _show_scores(self, live: list[tuple[int, float]]) -> None:
        """The lake's scores older than the live ones, then the live ones, within the window."""
        first_live = live[0][0] if live else None
        history = [p for p in self._lake_scores if first_live is None or p[0] < first_live]
        floor = self._latest_ms - self.window_ms
        points = [p for p in history + live if p[0] >= floor]
        t = [p[0] for p in points]
        frame = pd.DataFrame(
            {"time": pd.to_datetime(t, unit="ms"), "score": [p[1] for p in points]}
        )
        self.scores.send(frame)

    def _show_status(self, times: np.ndarray, values: np.ndarray) -> None:
        if not len(times):
            return
        last = values[-1]
        when = datetime.fromtimestamp(times[-1] / 1000, UTC).strftime("%H:%M:%S.%f")[:-5]
        parts = [
            f"{name} <b>{v:.2f}</b> {unit}"
            for name, i, unit in (
                ("I₁", 0, "A"),
                ("I₂", 1, "A"),
                ("|a|", 7, "m/s²"),
                ("T₁", 8, "°C"),
            )
            if np.isfinite(v := last[i])
        ]
        self.status.object = (
            f'<span class="modax-points">{self.points}</span> points received · last reading '
            f'<span class="modax-last">{when}</span> UTC · ' + " · ".join(parts)
        )

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(self.status, pn.pane.HoloViews(self.plots, sizing_mode="stretch_width"))


def _score_history(
    con: LakeConnection | None, device_id: str, window_ms: int
) -> list[tuple[int, float]]:
    """``(ts, score)`` of the device's newest window in the lake's ``scores`` table (ts ms)."""
    if con is None or "scores" not in con.tables:
        return []
    rows = con.execute(
        "select epoch_ms(ts), score from scores where device_id = $device and score is not null "
        "and ts >= (select max(ts) from scores where device_id = $device) - to_milliseconds($w) "
        "order by ts",
        {"device": device_id, "w": window_ms},
    ).fetchall()
    return [(int(t), float(v)) for t, v in rows]
