"""HoloViews/Panel components for live fleets, devices and models (``dashboards/`` and notebooks).

Live data
    :class:`FleetState` — last values, status, recent readings and alarms of every device, fed
    by :class:`LiveFeed` (one MQTT subscription per server process: :func:`shared_feed`), every
    message decoded by :func:`decode_live` (malformed ones are only counted as quarantined).
    :class:`AlarmLog` keeps alarms (active/cleared × acknowledged); :class:`AckStore` persists
    acknowledgements (``docs/decisions/0005-alarm-acks-in-sqlite.md``).
Views
    :class:`FleetOverview` (KPIs, device table, :class:`EventFeed`, quarantine),
    :class:`DeviceView` (:class:`LivePlots` streaming with ``Buffer``, :class:`HistoryView` from
    the lake through :func:`history` with MinMax-:func:`lttb` downsampling, :class:`WearPanel`:
    a model's remaining-life estimates with their interval, :func:`estimate_history`),
    :class:`ModelLab` (:func:`run_detection`, :func:`run_rul`; runs are jobs in a child
    process). Every dashboard is framed by :func:`page` (one header with the navigation).

In a notebook (JupyterLab, VS Code), also without internet access::

    from modax.viz import FleetOverview, extension, shared_feed
    extension()  # Panel, HoloViews/Bokeh and Tabulator with inline JavaScript
    FleetOverview(shared_feed().fleet)  # refreshes itself until its output is cleared

Served and notebook views refresh the same way (:mod:`modax.viz._periodic`): in a served session
with background callbacks, in a notebook with one callback per period on the kernel's event loop
that updates only the views on screen.
"""

from modax.viz._acks import AckStore, default_ack_path
from modax.viz._alarms import Alarm, AlarmLog
from modax.viz._cells import html_text, rul_text
from modax.viz._device import NO_SUCH_DEVICE, DeviceView, device_page, device_picker
from modax.viz._event_feed import SOURCE_LABELS, EventFeed, alarm_frame
from modax.viz._extension import extension
from modax.viz._feed import LiveFeed, recent_events, shared_feed
from modax.viz._fleet import OVERLOAD_CURRENT_A, OVERTEMP_C, DeviceState, FleetState
from modax.viz._fleet_table import FleetTable, fleet_frame, shared_table
from modax.viz._history import history
from modax.viz._history_view import HistoryView
from modax.viz._lab import DetectionRun, lake_series, run_detection, run_rul, skab_series
from modax.viz._lab_view import ModelLab, metrics_frame
from modax.viz._live_messages import decode_live
from modax.viz._live_plots import CHANNEL_GROUPS, LivePlots
from modax.viz._lttb import lttb, lttb_reference
from modax.viz._overview import FleetOverview
from modax.viz._page import PAGES, page
from modax.viz._wear import WearPanel, estimate_history, wear_history

__all__ = [
    "CHANNEL_GROUPS",
    "NO_SUCH_DEVICE",
    "OVERLOAD_CURRENT_A",
    "OVERTEMP_C",
    "PAGES",
    "SOURCE_LABELS",
    "AckStore",
    "Alarm",
    "AlarmLog",
    "DetectionRun",
    "DeviceState",
    "DeviceView",
    "EventFeed",
    "FleetOverview",
    "FleetState",
    "FleetTable",
    "HistoryView",
    "LiveFeed",
    "LivePlots",
    "ModelLab",
    "WearPanel",
    "alarm_frame",
    "decode_live",
    "default_ack_path",
    "device_page",
    "device_picker",
    "estimate_history",
    "extension",
    "fleet_frame",
    "history",
    "html_text",
    "lake_series",
    "lttb",
    "lttb_reference",
    "metrics_frame",
    "page",
    "recent_events",
    "rul_text",
    "run_detection",
    "run_rul",
    "shared_feed",
    "shared_table",
    "skab_series",
    "wear_history",
]
