"""The fleet table, shared by every session of a server process; each session dresses one page.

Re-reading 1,000 devices costs milliseconds; with one :class:`FleetTable` per :class:`FleetState`
(:func:`shared_table`), that happens at most every ``min_interval_s`` whatever the number of open
sessions, and only for changed devices. The shared frame holds plain values (what filters and
sorting need); the HTML a page shows — device links, state badges, clock times, sparklines — is
made by :meth:`FleetTable.dress` for the rows of one page only, each sparkline redrawn at most
every ``spark_every_s``.
"""

from __future__ import annotations

import threading
import time
import weakref

import pandas as pd

from modax.viz._cells import device_link, rul_text, sparkline, state_badge
from modax.viz._fleet import FleetState

__all__ = ["COLUMNS", "STATES", "FleetTable", "clock_time", "fleet_frame", "shared_table"]

#: Device states, most severe first (the table's default order).
STATES = ["alarm", "warning", "offline", "inactive", "ok"]
_SEVERITY = {state: i for i, state in enumerate(STATES)}
_VALUES = ["current_1", "current_2", "temp_max", "vib_mag"]
#: What the models say of a device (advisory): anomaly score, remaining life and its interval.
_MODEL = ["score", "rul_h", "rul_low_h", "rul_high_h", "rul_cap_h"]
#: Columns of the shared frame: plain values, alarms first then by device id.
_RAW = ["device_id", "state", "severity", "last_ts", *_VALUES, *_MODEL, "alarms"]
#: Columns of a dressed page, in display order (``device_id``, ``state``, ``severity`` hidden);
#: ``rul`` is the remaining life as text with its interval (:func:`modax.viz.rul_text`).
COLUMNS = [
    "device_id",
    "device",
    "state",
    "status",
    "last_reading",
    *_VALUES,
    "trend",
    "score",
    "rul",
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
    >>> table = FleetTable(FleetState())
    >>> table.frame().columns[:3].tolist(), table.dress(table.frame()).columns[:3].tolist()
    (['device_id', 'state', 'severity'], ['device_id', 'device', 'state'])
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
        self._records: dict[str, tuple[object, ...]] = {}
        self._frame = pd.DataFrame(columns=_RAW)

    def frame(self) -> pd.DataFrame:
        """Every device's plain values; a new object only when something changed (never mutate).

        Columns ``device_id, state, severity, last_ts`` (epoch ms), ``current_1, current_2`` (A),
        ``temp_max`` (°C), ``vib_mag`` (m/s²), ``score``, ``rul_h, rul_low_h, rul_high_h,
        rul_cap_h`` (h), ``alarms``.
        """
        with self._lock:
            now = time.monotonic()
            if now - self._built_at < self.min_interval_s:
                return self._frame
            version, changed = self.fleet.changed_since(self._version)
            if version == self._version:
                return self._frame
            self._version, self._built_at = version, now
            if changed:
                for device_id in changed:
                    row = self.fleet.row(device_id)
                    row["severity"] = _SEVERITY[str(row["state"])]
                    self._records[device_id] = tuple(row[c] for c in _RAW)
                frame = pd.DataFrame(list(self._records.values()), columns=_RAW)
                self._frame = frame.sort_values(["severity", "device_id"], ignore_index=True)
            return self._frame

    def dress(self, rows: pd.DataFrame) -> pd.DataFrame:
        """The display columns (:data:`COLUMNS`) of some rows of :meth:`frame`, as a new frame."""
        now = time.monotonic()
        with self._lock:
            trends = [self._trend(device_id, now) for device_id in rows["device_id"]]
        states = [str(s) for s in rows["state"]]
        columns = {
            "device_id": rows["device_id"].to_numpy(),
            "device": [device_link(d) for d in rows["device_id"]],
            "state": states,
            "status": [state_badge(s) for s in states],
            "last_reading": [clock_time(int(ms)) for ms in rows["last_ts"]],
            "trend": trends,
            "severity": rows["severity"].to_numpy(),
            "score": [None if pd.isna(v) else round(float(v), 3) for v in rows["score"]],
            "rul": [rul_text(*estimate) for estimate in rows[_MODEL[1:]].astype(float).to_numpy()],
            "alarms": rows["alarms"].to_numpy(),
            **{c: rows[c].to_numpy() for c in _VALUES},
        }
        return pd.DataFrame({c: columns[c] for c in COLUMNS})

    def _trend(self, device_id: str, now: float) -> str:
        svg, drawn = self._sparks.get(device_id, ("", float("-inf")))
        if now - drawn >= self.spark_every_s:
            svg = sparkline(self.fleet.row(device_id)["spark"])
            self._sparks[device_id] = (svg, now)
        return svg


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
    """Every device's row now, dressed for display, alarms first (for notebooks and tests).

    Examples
    --------
    >>> fleet_frame(FleetState()).empty
    True
    """
    table = FleetTable(fleet, min_interval_s=0.0, spark_every_s=0.0)
    return table.dress(table.frame())
