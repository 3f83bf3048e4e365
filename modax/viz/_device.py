"""The drill-down page of one device: live plots, its alarms, history and wear."""

from __future__ import annotations

from collections.abc import Callable

import panel as pn

from modax.lake import LakeConnection
from modax.schema import DEVICE_ID_PATTERN
from modax.viz._cells import device_link, html_text, state_badge
from modax.viz._event_feed import EventFeed
from modax.viz._fleet import FleetState
from modax.viz._history_view import HistoryView
from modax.viz._live_plots import LivePlots
from modax.viz._periodic import every
from modax.viz._twin_controls import TwinControls
from modax.viz._wear import WearPanel

__all__ = ["NO_SUCH_DEVICE", "DeviceView", "device_page", "device_picker"]

#: What the device page says (and its title) when the URL names no valid device id.
NO_SUCH_DEVICE = "no such device"


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


def device_page(
    fleet: FleetState, connect: Callable[[], LakeConnection], requested: str
) -> tuple[str, pn.viewable.Viewable]:
    """The title and body of ``/device?id=<requested>``.

    An empty id gives the device picker; an id that is not a valid device id
    (``modax.schema.DEVICE_ID_PATTERN``) gives :data:`NO_SUCH_DEVICE`, so nothing of it reaches
    the page; a valid one gives its :class:`DeviceView`.

    Parameters
    ----------
    fleet : FleetState
        The live state.
    connect : callable
        Opens DuckDB over the lake (called only for a valid id).
    requested : str
        The ``id`` argument of the URL, as sent.

    Examples
    --------
    >>> device_page(FleetState(), lambda: None, "<script>")[0]
    'no such device'
    """
    if not requested:
        return "devices", device_picker(fleet)
    if not DEVICE_ID_PATTERN.match(requested):
        body = pn.pane.HTML(
            f'<h2 class="modax-no-device">{NO_SUCH_DEVICE}</h2>'
            '<p>Device ids are letters, digits, "_", "." and "-" (at most 64). '
            '<a href="device">Pick a device</a></p>'
        )
        return NO_SUCH_DEVICE, body
    return requested, DeviceView(fleet, connect(), requested)


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
        self.live = LivePlots(fleet, device_id, period_ms=period_ms, con=con)
        self.events = EventFeed(fleet.alarms, device_id=device_id, period_ms=period_ms)
        self.history = HistoryView(con, device_id)
        self.wear = WearPanel(fleet, con, device_id, period_ms=period_ms)
        self.controls = TwinControls(device_id)
        self.refresh()
        every(self.refresh, period_ms, self.header)

    def refresh(self) -> None:
        """Update the state badge (the wear panel refreshes its live estimate itself)."""
        known = self.device_id in self.fleet.device_ids()
        state = str(self.fleet.row(self.device_id)["state"]) if known else "unknown"
        alarms = self.fleet.row(self.device_id)["alarms"] if known else ""
        self.header.object = (
            f'<h2 style="margin:0">Device '
            f'<span class="modax-device-id">{html_text(self.device_id)}</span> '
            f"{state_badge(state)}</h2>"
            f"<p>{'Active alarms: ' + html_text(alarms) if alarms else 'No active alarm.'} "
            f'<a href="fleet">← fleet overview</a></p>'
        )

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(
            self.header,
            pn.Tabs(
                (
                    "Live",
                    pn.Column(self.live, self.events, self.controls, sizing_mode="stretch_width"),
                ),
                ("History", self.history),
                ("Wear & remaining life", self.wear),
                sizing_mode="stretch_width",
            ),
            sizing_mode="stretch_width",
        )
