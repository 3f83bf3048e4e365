"""The fleet overview: KPIs, one table row per device (filter, sort), event feed, quarantine."""

from __future__ import annotations

import pandas as pd
import panel as pn

from modax.viz._event_feed import EventFeed
from modax.viz._fleet import FleetState
from modax.viz._fleet_table import STATES, FleetTable, clock_time, shared_table

__all__ = ["FleetOverview"]

_TITLES = {
    "device": "Device",
    "status": "State",
    "last_reading": "Last reading (UTC)",
    "current_1": "I₁ (A)",
    "current_2": "I₂ (A)",
    "temp_max": "T max (°C)",
    "vib_mag": "|a| (m/s²)",
    "trend": "I trend",
    "score": "Anomaly score",
    "rul_h": "RUL (h)",
    "alarms": "Active alarms",
}


class FleetOverview(pn.viewable.Viewer):
    """Every device of a live fleet with its state, last values and trend; KPIs; event feed.

    Parameters
    ----------
    fleet : FleetState
        The live state (``shared_feed().fleet`` in a served app).
    period_ms : int
        Refresh period of the session, in ms; only changed devices are re-read.
    page_size : int
        Rows per table page (pagination happens on the server, so 1,000 devices stay light).
        Devices with alarms come first; a click on a column header sorts by it.
    table : FleetTable, optional
        Where rows come from; by default the one shared by every session of this fleet.

    Examples
    --------
    >>> overview = FleetOverview(FleetState())
    >>> overview.table.value.empty
    True
    """

    def __init__(
        self,
        fleet: FleetState,
        period_ms: int = 250,
        page_size: int = 25,
        table: FleetTable | None = None,
        **params: object,
    ) -> None:
        super().__init__(**params)
        self.fleet = fleet
        self._version = -1
        self._quarantined = 0
        self.shared = table if table is not None else shared_table(fleet)
        self._frame = self.shared.frame()
        self.search = pn.widgets.TextInput(label="Device", placeholder="filter by device id")
        self.states = pn.widgets.MultiChoice(label="State", options=STATES, value=[])
        self.kpi = {
            "devices": pn.indicators.Number(label="Devices", value=0, format="{value:d}"),
            "online": pn.indicators.Number(label="Online", value=0, format="{value:d}"),
            "safety_alarms": pn.indicators.Number(
                label="Active safety alarms",
                value=0,
                format="{value:d}",
                colors=[(0.5, "#2e7d32"), (1e9, "#c62828")],
            ),
            "anomaly_alerts": pn.indicators.Number(
                label="Anomaly alerts",
                value=0,
                format="{value:d}",
                colors=[(0.5, "#2e7d32"), (1e9, "#ef6c00")],
            ),
            "worst_rul_h": pn.indicators.String(label="Worst remaining life", value="–"),
            "quarantined": pn.indicators.Number(label="Quarantined", value=0, format="{value:d}"),
        }
        for indicator in self.kpi.values():
            indicator.font_size = "28pt"
            indicator.title_size = "11pt"
        self.table = pn.widgets.Tabulator(
            self._frame,
            show_index=False,
            disabled=True,
            pagination="remote",
            page_size=page_size,
            hidden_columns=["device_id", "state", "severity"],
            titles=_TITLES,
            formatters={name: {"type": "html"} for name in ("device", "status", "trend")},
            sizing_mode="stretch_width",
            label="Devices",
        )
        self.table.add_filter(pn.bind(self._match_device, pattern=self.search))
        self.table.add_filter(pn.bind(self._match_state, states=self.states))
        self.events = EventFeed(fleet.alarms, period_ms=period_ms)
        self.quarantine = pn.widgets.Tabulator(
            pd.DataFrame(columns=["time", "topic", "reason", "field", "detail"]),
            show_index=False,
            disabled=True,
            sizing_mode="stretch_width",
            label="Quarantined messages",
        )
        self.refresh()
        if pn.state.curdoc is not None:
            pn.state.add_periodic_callback(self.refresh, period=period_ms)

    @staticmethod
    def _match_device(df: pd.DataFrame, pattern: str) -> pd.DataFrame:
        if not pattern:
            return df
        return df[df["device_id"].str.contains(pattern, case=False, regex=False)]

    @staticmethod
    def _match_state(df: pd.DataFrame, states: list[str]) -> pd.DataFrame:
        return df[df["state"].isin(states)] if states else df

    def refresh(self) -> None:
        """Show the shared table if it changed, and the KPIs."""
        frame = self.shared.frame()
        if frame is not self._frame:
            self._frame = frame
            self.table.value = frame
        version = self.fleet.version
        if version == self._version:
            return
        self._version = version
        kpis = self.fleet.kpis()
        for name in ("devices", "online", "safety_alarms", "anomaly_alerts", "quarantined"):
            self.kpi[name].value = int(kpis[name] or 0)
        worst = kpis["worst_rul_h"]
        self.kpi["worst_rul_h"].value = "–" if worst is None else f"{worst:.0f} h"
        if kpis["quarantined"] != self._quarantined:
            self._quarantined = kpis["quarantined"]
            self._show_quarantine()

    def _show_quarantine(self) -> None:
        self.quarantine.value = pd.DataFrame(
            [
                {
                    "time": clock_time(q.received_ms),
                    "topic": q.topic,
                    "reason": q.reason,
                    "field": q.field,
                    "detail": q.detail,
                }
                for q in self.fleet.recent_quarantine
            ],
            columns=["time", "topic", "reason", "field", "detail"],
        )

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(
            pn.FlexBox(*self.kpi.values()),
            pn.Row(self.search, self.states),
            self.table,
            self.events,
            pn.Card(self.quarantine, title="Quarantined messages", collapsed=True),
            sizing_mode="stretch_width",
        )
