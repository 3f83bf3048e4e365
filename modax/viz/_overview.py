"""The fleet overview: KPIs, one table row per device (filter, sort), event feed, quarantine."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import panel as pn

from modax.viz._cells import device_link, sparkline, state_badge
from modax.viz._event_feed import EventFeed
from modax.viz._fleet import FleetState

__all__ = ["FleetOverview", "fleet_frame"]

STATES = ["alarm", "warning", "offline", "inactive", "ok"]
_SEVERITY = {state: i for i, state in enumerate(STATES)}
_COLUMNS = [
    "device_id",
    "device",
    "state",
    "status",
    "last_reading",
    "current_1",
    "current_2",
    "temp_max",
    "vib_mag",
    "trend",
    "score",
    "rul_h",
    "alarms",
    "severity",
]
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


def _time(ms: int) -> str:
    if not ms:
        return ""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%H:%M:%S.%f")[:-5]


def fleet_frame(fleet: FleetState, device_ids: list[str] | None = None) -> pd.DataFrame:
    """One row per device, as the overview table shows it.

    Examples
    --------
    >>> fleet_frame(FleetState()).columns[:3].tolist()
    ['device_id', 'device', 'state']
    """
    rows = []
    for device_id in fleet.device_ids() if device_ids is None else device_ids:
        row = fleet.row(device_id)
        state = str(row["state"])
        rows.append(
            {
                "device_id": device_id,
                "device": device_link(device_id),
                "state": state,
                "status": state_badge(state),
                "last_reading": _time(int(row["last_ts"])),
                "current_1": row["current_1"],
                "current_2": row["current_2"],
                "temp_max": row["temp_max"],
                "vib_mag": row["vib_mag"],
                "trend": sparkline(row["spark"]),
                "score": row["score"],
                "rul_h": row["rul_h"],
                "alarms": row["alarms"],
                "severity": _SEVERITY[state],
            }
        )
    return pd.DataFrame(rows, columns=_COLUMNS)


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

    Examples
    --------
    >>> overview = FleetOverview(FleetState())
    >>> overview.table.value.empty
    True
    """

    def __init__(
        self, fleet: FleetState, period_ms: int = 500, page_size: int = 25, **params: object
    ) -> None:
        super().__init__(**params)
        self.fleet = fleet
        self._version = -1
        self._quarantined = 0
        self._frame = fleet_frame(fleet)
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
        """Re-read the devices that changed since the last refresh and the KPIs."""
        version, changed = self.fleet.changed_since(self._version)
        if version == self._version:
            return
        self._version = version
        frame = self._frame
        known = set(frame["device_id"])
        if changed:
            fresh = fleet_frame(self.fleet, changed)
            if known.issuperset(changed):
                positions = pd.Index(frame["device_id"]).get_indexer(fresh["device_id"])
                frame = frame.copy()
                frame.iloc[positions] = fresh.to_numpy()
            else:
                frame = fleet_frame(self.fleet)
            frame = frame.sort_values(["severity", "device_id"], ignore_index=True)
            self._frame = frame
            self.table.value = frame
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
                    "time": _time(q.received_ms),
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
