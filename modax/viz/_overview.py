"""The fleet overview: KPIs, one table row per device (filter, sort, pages), events, quarantine."""

from __future__ import annotations

import pandas as pd
import panel as pn

from modax.viz._cells import rul_text
from modax.viz._event_feed import EventFeed
from modax.viz._fleet import FleetState
from modax.viz._fleet_table import COLUMNS, STATES, FleetTable, clock_time, shared_table
from modax.viz._periodic import every

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
    "rul": "RUL (h)",
    "alarms": "Active alarms",
}
#: What a click on a display column sorts by in the shared frame (``trend`` sorts by nothing).
_SORT_KEYS = {
    "device": "device_id",
    "status": "severity",
    "last_reading": "last_ts",
    "rul": "rul_h",
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
        Rows per page. Filtering, sorting and paging happen on the server over the shared
        frame; only the page's rows are dressed and sent, and when the same devices stay on
        the page only the changed cells are (a patch), so 1,000 devices stay light. Devices
        with alarms come first; a click on a column header sorts the whole fleet by it.
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
        self._frame = pd.DataFrame()
        self._shown: tuple[object, ...] = ()
        self.page = 1
        self.page_size = page_size
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
            pd.DataFrame(columns=COLUMNS),
            show_index=False,
            disabled=True,
            hidden_columns=["device_id", "state", "severity"],
            titles=_TITLES,
            formatters={name: {"type": "html"} for name in ("device", "status", "trend")},
            sizing_mode="stretch_width",
            label="Devices",
        )
        self.previous = pn.widgets.Button(label="‹ Previous", width=110)
        self.next = pn.widgets.Button(label="Next ›", width=110)
        self.position = pn.pane.HTML("", margin=(12, 10))
        self.previous.on_click(lambda _: self._go(self.page - 1))
        self.next.on_click(lambda _: self._go(self.page + 1))
        for widget in (self.search, self.states):
            widget.param.watch(lambda _: self._go(1), "value")
        self.table.param.watch(lambda _: self.refresh(), "sorters")
        self.events = EventFeed(fleet.alarms, period_ms=period_ms)
        self.quarantine = pn.widgets.Tabulator(
            pd.DataFrame(columns=["time", "topic", "reason", "field", "detail"]),
            show_index=False,
            disabled=True,
            sizing_mode="stretch_width",
            label="Quarantined messages",
        )
        self.refresh()
        every(self.refresh, period_ms, self.table)

    @staticmethod
    def _match_device(df: pd.DataFrame, pattern: str) -> pd.DataFrame:
        if not pattern:
            return df
        return df[df["device_id"].str.contains(pattern, case=False, regex=False)]

    @staticmethod
    def _match_state(df: pd.DataFrame, states: list[str]) -> pd.DataFrame:
        return df[df["state"].isin(states)] if states else df

    def _go(self, page: int) -> None:
        self.page = max(1, page)
        self.refresh()

    def _what_is_shown(self) -> tuple[object, ...]:
        sorters = tuple(tuple(sorted(s.items())) for s in self.table.sorters)
        return (self.search.value, tuple(self.states.value), self.page, sorters)

    def _view(self) -> pd.DataFrame:
        """The page this session shows of the shared frame: filtered, sorted, dressed."""
        rows = self._match_device(self._frame, self.search.value)
        rows = self._match_state(rows, self.states.value)
        keys = [_SORT_KEYS.get(s["field"], s["field"]) for s in self.table.sorters]
        if keys and set(keys) <= set(rows.columns):
            ascending = [s["dir"] == "asc" for s in self.table.sorters]
            rows = rows.sort_values(keys, ascending=ascending, kind="stable")
        pages = max(1, -(-len(rows) // self.page_size))
        self.page = min(self.page, pages)
        start = (self.page - 1) * self.page_size
        shown = rows.iloc[start : start + self.page_size]
        self.position.object = (
            f"{start + 1 if len(shown) else 0}–{start + len(shown)} of {len(rows):,} devices"
            f" · page {self.page} of {pages}"
        )
        self.previous.disabled = self.page == 1
        self.next.disabled = self.page == pages
        return self.shared.dress(shown)

    def _show(self, page: pd.DataFrame) -> None:
        """Put ``page`` in the table: a patch of the changed columns when the same devices stay."""
        old = self.table.value
        if len(old) != len(page) or not (old["device_id"].to_numpy() == page["device_id"]).all():
            self.table.value = page
            return
        patch = {}
        for column in COLUMNS:
            was, now = old[column].to_numpy(), page[column].to_numpy()
            if not (pd.isna(was) & pd.isna(now) | (was == now)).all():
                patch[column] = [(slice(0, len(page)), now.tolist())]
        if patch:
            self.table.patch(patch, as_index=False)

    def refresh(self) -> None:
        """Show this session's page of the shared table if anything on it may have changed."""
        frame = self.shared.frame()
        if frame is not self._frame or self._what_is_shown() != self._shown:
            self._frame = frame
            self._show(self._view())  # may move to the last page, if the filter left fewer
            self._shown = self._what_is_shown()
        version = self.fleet.version
        if version == self._version:
            return
        self._version = version
        kpis = self.fleet.kpis()
        for name in ("devices", "online", "safety_alarms", "anomaly_alerts", "quarantined"):
            self.kpi[name].value = int(kpis[name] or 0)
        worst = [kpis[f"worst_rul{part}_h"] for part in ("", "_low", "_high", "_cap")]
        self.kpi["worst_rul_h"].value = rul_text(*worst, unit=" h") or "–"
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
            pn.Row(self.previous, self.next, self.position),
            self.events,
            pn.Card(self.quarantine, title="Quarantined messages", collapsed=True),
            sizing_mode="stretch_width",
        )
