"""The drill-down page of one device: live plots, its alarms, history and wear."""

from __future__ import annotations

import panel as pn

from modax.lake import LakeConnection
from modax.viz._cells import device_link, state_badge
from modax.viz._event_feed import EventFeed
from modax.viz._fleet import FleetState
from modax.viz._history_view import HistoryView
from modax.viz._live_plots import LivePlots
from modax.viz._periodic import every
from modax.viz._wear import WearPanel

__all__ = ["DeviceView", "device_picker"]


def device_picker(fleet: FleetState) -> pn.viewable.Viewable:
    """Links to every known device's page (shown when the URL names no device).

    Examples
    --------
    >>> device_picker(FleetState()).object
    'No device has reported yet.'
    """
    ids = fleet.device_ids()
    if not ids:
        return pn.pane.HTML("No device has reported yet.")
    links = " · ".join(device_link(d) for d in ids)
    return pn.pane.HTML(f"<p>Pick a device:</p><p>{links}</p>")


class DeviceView(pn.viewable.Viewer):
    """Everything about one device, as ``dashboards/device.py?id=<device>`` shows it.

    Parameters
    ----------
    fleet : FleetState
        The live state.
    con : LakeConnection
        DuckDB over the lake (history, wear).
    device_id : str
        The device.
    period_ms : int
        Refresh period, in ms.

    Examples
    --------
    >>> import tempfile
    >>> from modax import connect
    >>> view = DeviceView(FleetState(), connect(tempfile.mkdtemp()), "m1")
    >>> "m1" in view.header.object
    True
    """

    def __init__(
        self,
        fleet: FleetState,
        con: LakeConnection,
        device_id: str,
        period_ms: int = 500,
        **params: object,
    ) -> None:
        super().__init__(**params)
        self.fleet = fleet
        self.device_id = device_id
        self.header = pn.pane.HTML("", sizing_mode="stretch_width")
        self.live = LivePlots(fleet, device_id, period_ms=period_ms)
        self.events = EventFeed(fleet.alarms, device_id=device_id, period_ms=period_ms)
        self.history = HistoryView(con, device_id)
        self.wear = WearPanel(fleet, con, device_id)
        self.refresh()
        every(self.refresh, period_ms)

    def refresh(self) -> None:
        """Update the state badge and the model's live estimates."""
        known = self.device_id in self.fleet.device_ids()
        state = str(self.fleet.row(self.device_id)["state"]) if known else "unknown"
        alarms = self.fleet.row(self.device_id)["alarms"] if known else ""
        self.header.object = (
            f'<h2 style="margin:0">Device <span class="modax-device-id">{self.device_id}</span> '
            f"{state_badge(state)}</h2>"
            f"<p>{'Active alarms: ' + str(alarms) if alarms else 'No active alarm.'} "
            f'<a href="fleet">← fleet overview</a></p>'
        )
        self.wear.refresh_live()

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(
            self.header,
            pn.Tabs(
                ("Live", pn.Column(self.live, self.events, sizing_mode="stretch_width")),
                ("History", self.history),
                ("Wear & remaining life", self.wear),
                sizing_mode="stretch_width",
            ),
            sizing_mode="stretch_width",
        )
