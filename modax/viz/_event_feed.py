"""The event feed: safety events, model alerts and inactivity alarms to acknowledge."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import panel as pn

from modax.viz._alarms import AlarmLog
from modax.viz._cells import device_link
from modax.viz._periodic import every

__all__ = ["SOURCE_LABELS", "EventFeed", "alarm_frame"]

_COLUMNS = ["time", "device", "kind", "source", "value", "status", "note", "alarm_id"]
#: How the feed names where an alarm came from: a model's alert is advisory, never safety.
SOURCE_LABELS = {
    "safety": "safety",
    "device": "safety (device)",
    "live-rule": "safety (live rule)",
    "monitor": "monitor",
    "model": "advisory",
}


def _utc(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")


def alarm_frame(log: AlarmLog, limit: int = 200, device_id: str | None = None) -> pd.DataFrame:
    """The newest ``limit`` alarms as a table: ``time`` (UTC), ``device`` (a link), ``kind``,
    ``source`` (:data:`SOURCE_LABELS`: a model's alert says ``advisory``), ``value``,
    ``status``, ``note`` and ``alarm_id``.

    Examples
    --------
    >>> log = AlarmLog()
    >>> _ = log.raise_alarm("m1", "overload", "safety", 0, value=12.5)
    >>> alarm_frame(log)[["time", "kind", "status"]].to_dict("records")
    [{'time': '1970-01-01 00:00:00', 'kind': 'overload', 'status': 'active · unacknowledged'}]
    """
    alarms = [a for a in log.alarms() if device_id is None or a.device_id == device_id][:limit]
    rows = [
        {
            "time": _utc(a.raised_ms),
            "device": device_link(a.device_id),
            "kind": a.kind,
            "source": SOURCE_LABELS.get(a.source, a.source),
            "value": a.value,
            "status": a.status,
            "note": a.note or "",
            "alarm_id": a.alarm_id,
        }
        for a in alarms
    ]
    return pd.DataFrame(rows, columns=_COLUMNS)


class EventFeed(pn.viewable.Viewer):
    """A table of alarms, newest first, with an *Acknowledge* button per row.

    Parameters
    ----------
    log : AlarmLog
        The alarms (usually ``shared_feed().fleet.alarms``).
    device_id : str, optional
        Show only this device's alarms.
    period_ms : int
        How often the table is refreshed, in ms.

    Examples
    --------
    >>> feed = EventFeed(AlarmLog())
    >>> feed.table.value.empty
    True
    """

    def __init__(
        self, log: AlarmLog, device_id: str | None = None, period_ms: int = 500, **params: object
    ) -> None:
        super().__init__(**params)
        self.log = log
        self.device_id = device_id
        self._version = -1
        self.table = pn.widgets.Tabulator(
            alarm_frame(log, device_id=device_id),
            show_index=False,
            disabled=True,
            pagination="remote",
            page_size=10,
            hidden_columns=["alarm_id"],
            formatters={"device": {"type": "html"}},
            buttons={"ack": "Acknowledge"},
            sizing_mode="stretch_width",
            label="Event feed",
        )
        self.table.on_click(self._on_click)
        self.refresh()
        every(self.refresh, period_ms, self.table)

    def refresh(self) -> None:
        """Show the current alarms if anything changed."""
        if self.log.version != self._version:
            self._version = self.log.version
            self.table.value = alarm_frame(self.log, device_id=self.device_id)

    def acknowledge(self, alarm_id: str) -> bool:
        """Acknowledge an alarm as the logged-in user (``operator`` without auth)."""
        done = self.log.acknowledge(alarm_id, pn.state.user or "operator")
        self.refresh()
        return done

    def _on_click(self, event: object) -> None:
        if getattr(event, "column", None) == "ack":
            self.acknowledge(self.table.value.iloc[event.row]["alarm_id"])

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(
            pn.pane.Markdown("### Event feed"), self.table, sizing_mode="stretch_width"
        )
