"""The fleet table as a DataFrame, built once per server process for every session to share.

Re-reading 1,000 devices and drawing their sparklines costs tens of milliseconds; with one
:class:`FleetTable` per :class:`FleetState` (:func:`shared_table`), that work happens at most
every ``min_interval_s`` whatever the number of open sessions, only for changed devices, and each
sparkline is redrawn at most every ``spark_every_s``.
"""

from __future__ import annotations

import threading
import time
import weakref

import pandas as pd

from modax.viz._cells import device_link, sparkline, state_badge
from modax.viz._fleet import FleetState

__all__ = ["STATES", "FleetTable", "clock_time", "fleet_frame", "shared_table"]

#: Device states, most severe first (the table's default order).
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


def clock_time(ms: int) -> str:
    """``HH:MM:SS.s`` (UTC) of an epoch-ms time; empty for 0.

    Examples
    --------
    >>> clock_time(1_800_000_000_123)
    '08:00:00.1'
    """
    if not ms:
        return ""
    day_ms = ms % 86_400_000
    hours, rest = divmod(day_ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    return f"{hours:02d}:{minutes:02d}:{rest // 1000:02d}.{rest % 1000 // 100}"


class FleetTable:
    """One row per device (alarms first), kept current incrementally; thread-safe.

    Parameters
    ----------
    fleet : FleetState
        The live state.
    min_interval_s : float
        Rebuild at most this often, in s (sessions in between get the same frame).
    spark_every_s : float
        Redraw a device's sparkline at most this often, in s.

    Examples
    --------
    >>> FleetTable(FleetState()).frame().columns[:3].tolist()
    ['device_id', 'device', 'state']
    """

    def __init__(
        self, fleet: FleetState, min_interval_s: float = 0.25, spark_every_s: float = 2.0
    ) -> None:
        self.fleet = fleet
        self.min_interval_s = min_interval_s
        self.spark_every_s = spark_every_s
        self._lock = threading.Lock()
        self._version = -1
        self._built_at = float("-inf")
        self._sparks: dict[str, tuple[str, float]] = {}
        self._records: dict[str, dict[str, object]] = {}
        self._frame = pd.DataFrame(columns=_COLUMNS)

    def frame(self) -> pd.DataFrame:
        """The current table; a new object only when something changed (never mutate it)."""
        with self._lock:
            now = time.monotonic()
            if now - self._built_at < self.min_interval_s:
                return self._frame
            version, changed = self.fleet.changed_since(self._version)
            if version == self._version:
                return self._frame
            self._version, self._built_at = version, now
            if changed:
                self._records.update(self._rows(changed, now))
                frame = pd.DataFrame(list(self._records.values()), columns=_COLUMNS)
                self._frame = frame.sort_values(["severity", "device_id"], ignore_index=True)
            return self._frame

    def _rows(self, device_ids: list[str], now: float) -> dict[str, dict[str, object]]:
        rows = {}
        for device_id in device_ids:
            row = self.fleet.row(device_id)
            state = str(row["state"])
            svg, drawn = self._sparks.get(device_id, ("", float("-inf")))
            if now - drawn >= self.spark_every_s:
                svg = sparkline(row["spark"])
                self._sparks[device_id] = (svg, now)
            rows[device_id] = {
                "device_id": device_id,
                "device": device_link(device_id),
                "state": state,
                "status": state_badge(state),
                "last_reading": clock_time(int(row["last_ts"])),
                "current_1": row["current_1"],
                "current_2": row["current_2"],
                "temp_max": row["temp_max"],
                "vib_mag": row["vib_mag"],
                "trend": svg,
                "score": row["score"],
                "rul_h": row["rul_h"],
                "alarms": row["alarms"],
                "severity": _SEVERITY[state],
            }
        return rows


_SHARED: weakref.WeakKeyDictionary[FleetState, FleetTable] = weakref.WeakKeyDictionary()
_SHARED_LOCK = threading.Lock()


def shared_table(fleet: FleetState) -> FleetTable:
    """The one :class:`FleetTable` of ``fleet`` (created on first use)."""
    with _SHARED_LOCK:
        table = _SHARED.get(fleet)
        if table is None:
            table = _SHARED[fleet] = FleetTable(fleet)
        return table


def fleet_frame(fleet: FleetState) -> pd.DataFrame:
    """Every device's row now, alarms first (a fresh build, for notebooks and tests).

    Examples
    --------
    >>> fleet_frame(FleetState()).empty
    True
    """
    return FleetTable(fleet, min_interval_s=0.0, spark_every_s=0.0).frame()
