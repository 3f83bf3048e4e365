"""Wear per device on live telemetry, stored in the lake's ``wear`` table — advisory only.

Telemetry is cut into fixed windows per device; each window's stresses feed the MODAX stress model
(:class:`StressWearModel`), whose accumulated hours carry on from the device's last row in the
``wear`` table. Only complete windows are written (a later reading of the device exists), so each
window is written once. Nothing here feeds a safety decision.

Wear accrues over operating time only (readings with a motor current above 0.5 A), as the MODAX
model's "operating time accumulation" and the simulator's wear law have it. Window statistics:
``current_mean_a`` is the mean of all current channels' readings,
``current_max_a`` their largest; ``vib_mean_ms2`` is the dynamic vibration RMS (each axis minus its
window mean, so gravity drops out) and ``vib_std_ms2`` the standard deviation of ``vib_mag``;
temperatures likewise over all temperature channels.

Examples
--------
>>> from modax.lake import Lake
>>> written = update_wear(Lake("data/lake"))  # doctest: +SKIP
>>> Lake("data/lake").read("wear", columns=["device_id", "remaining_h"])  # doctest: +SKIP
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from modax.lake import Lake
from modax.models.wear.stress import PRIOR_COLUMN, STRESS_COLUMNS, StressWearModel
from modax.schema import UTC_MS

__all__ = ["WEAR_SCHEMA", "WearDeriver", "stress_windows", "update_wear", "wear_rows"]

_CURRENTS = [f"current_{i}" for i in range(1, 5)]
_TEMPS = [f"temp_{i}" for i in range(1, 5)]
_AXES = ["vib_x", "vib_y", "vib_z"]

#: The ``wear`` lake table: one row per device and complete window.
WEAR_SCHEMA = pa.schema(
    [
        pa.field("device_id", pa.string(), nullable=False),
        pa.field("window_start", UTC_MS, nullable=False),
        *(pa.field(name, pa.float64()) for name in STRESS_COLUMNS),
        pa.field("stress_factor", pa.float64()),
        pa.field("accumulated_h", pa.float64()),
        pa.field("wear_level", pa.float64()),
        pa.field("remaining_h", pa.float64()),
        pa.field("confidence", pa.float64()),
        pa.field("factors", pa.string()),
        pa.field("model", pa.string()),
        pa.field("computed_at", UTC_MS),
    ]
)


def stress_windows(
    telemetry: pa.Table | pd.DataFrame, window_s: float = 60.0, running_current_a: float = 0.5
) -> pd.DataFrame:
    """Per device and ``window_s`` window: the stress columns the MODAX model takes.

    Parameters
    ----------
    telemetry : pyarrow.Table or pandas.DataFrame
        Rows with ``device_id``, ``ts`` (UTC) and the telemetry channels
        (:data:`modax.schema.TELEMETRY_SCHEMA`).
    window_s : float
        Window length (s).
    running_current_a : float
        A reading counts as operating time when any current channel is above this (A).

    Returns
    -------
    pandas.DataFrame
        ``device_id``, ``window_start`` (UTC), ``window_end``, ``last_ts`` (the device's latest
        reading), ``n_samples`` and :data:`STRESS_COLUMNS`, sorted by device and window; its
        ``window_s`` is the operating time in the window (length × share of running readings).
    """
    frame = telemetry.to_pandas() if isinstance(telemetry, pa.Table) else telemetry.copy()
    needed = ("device_id", "ts", *_CURRENTS, *_AXES, "vib_mag", *_TEMPS)
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise ValueError(f"telemetry: missing column(s) {', '.join(missing)}")
    if window_s <= 0:
        raise ValueError(f"window_s: must be > 0 s, got {window_s}")
    ts = pd.to_datetime(frame["ts"], utc=True)
    frame["window_start"] = ts.dt.floor(pd.Timedelta(seconds=window_s))
    frame["ts"] = ts
    keys = ["device_id", "window_start"]
    groups = frame.groupby(keys, sort=True)
    out = groups.size().rename("n_samples").to_frame()
    currents = frame[_CURRENTS].to_numpy(dtype=float)
    temps = frame[_TEMPS].to_numpy(dtype=float)
    stats = pd.DataFrame(
        {
            "device_id": frame["device_id"],
            "window_start": frame["window_start"],
            "c_sum": np.nansum(currents, axis=1),
            "c_n": np.isfinite(currents).sum(axis=1),
            "c_max": np.nanmax(np.where(np.isfinite(currents), currents, -np.inf), axis=1),
            "t_sum": np.nansum(temps, axis=1),
            "t_n": np.isfinite(temps).sum(axis=1),
            "t_max": np.nanmax(np.where(np.isfinite(temps), temps, -np.inf), axis=1),
            "running": (np.nan_to_num(currents, nan=0.0) > running_current_a).any(axis=1),
        }
    ).groupby(keys, sort=True)
    sums = stats[["c_sum", "c_n", "t_sum", "t_n"]].sum()
    out["current_mean_a"] = sums["c_sum"] / sums["c_n"]
    out["current_max_a"] = stats["c_max"].max()
    variance = groups[_AXES].var(ddof=0).sum(axis=1)
    out["vib_mean_ms2"] = np.sqrt(variance)
    out["vib_std_ms2"] = groups["vib_mag"].std(ddof=0)
    out["temp_mean_c"] = sums["t_sum"] / sums["t_n"]
    out["temp_max_c"] = stats["t_max"].max()
    out["window_s"] = float(window_s) * stats["running"].mean()
    out = out.reset_index()
    out["window_end"] = out["window_start"] + pd.Timedelta(seconds=window_s)
    out["last_ts"] = out["device_id"].map(frame.groupby("device_id")["ts"].max())
    return out.replace([np.inf, -np.inf], np.nan)


def wear_rows(
    windows: pd.DataFrame,
    model: StressWearModel | None = None,
    prior_h: dict[str, float] | None = None,
    computed_at: datetime | None = None,
) -> pa.Table:
    """Score complete stress windows with ``model`` into rows of :data:`WEAR_SCHEMA`.

    Windows with missing statistics (a channel absent for the whole window) are scored as
    normal for that stress. ``prior_h`` maps device → equivalent hours accumulated before.
    """
    model = model or StressWearModel()
    frame = windows.sort_values(["device_id", "window_start"]).reset_index(drop=True)
    inputs = frame[["device_id", *STRESS_COLUMNS]].copy()
    inputs[list(STRESS_COLUMNS)] = inputs[list(STRESS_COLUMNS)].fillna(0.0)
    inputs[PRIOR_COLUMN] = frame["device_id"].map(prior_h or {}).fillna(0.0).to_numpy()
    model.fit(inputs)
    stamp = pd.Timestamp(computed_at or datetime.now(UTC))
    stamp = (stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")).floor(
        "ms"
    )
    columns = {
        "device_id": frame["device_id"].astype(str),
        "window_start": frame["window_start"],
        **{name: frame[name].astype(float) for name in STRESS_COLUMNS},
        "stress_factor": model.stress_factor(inputs),
        "accumulated_h": model.accumulated_hours(inputs),
        "wear_level": model.wear_level(inputs),
        "remaining_h": model.predict(inputs),
        "confidence": model.confidence(inputs),
        "factors": ["; ".join(f) for f in model.contributing_factors(inputs)],
        "model": "modax-stress",
        "computed_at": stamp,
    }
    return pa.Table.from_pandas(pd.DataFrame(columns), schema=WEAR_SCHEMA, preserve_index=False)


def update_wear(
    lake: Lake,
    model: StressWearModel | None = None,
    window_s: float = 60.0,
    computed_at: datetime | None = None,
) -> int:
    """Append the wear of every complete window not yet in the ``wear`` table; rows written.

    Reads telemetry from the earliest end of any device's last scored window (all of it on the
    first run); devices seen for the first time start there with no prior wear.
    """
    if not lake.exists("telemetry"):
        return 0
    prior, done = _wear_state(lake, window_s)
    since = min(done.values()) if done else None
    columns = ["device_id", "ts", *_CURRENTS, *_AXES, "vib_mag", *_TEMPS]
    where = None if since is None else pc.field("ts") >= pa.scalar(since, UTC_MS)
    telemetry = lake.read("telemetry", columns=columns, filter=where)
    if telemetry.num_rows == 0:
        return 0
    windows = _complete_new(stress_windows(telemetry, window_s), done)
    if windows.empty:
        return 0
    rows = wear_rows(windows, model, prior, computed_at)
    lake.append("wear", rows)
    return rows.num_rows


def _complete_new(windows: pd.DataFrame, done: dict[str, pd.Timestamp]) -> pd.DataFrame:
    """Windows with a later reading of their device, not before the device's ``done`` time."""
    complete = windows["last_ts"] >= windows["window_end"]
    floor = pd.to_datetime(windows["device_id"].map(done), utc=True)
    fresh = floor.isna() | (windows["window_start"] >= floor)
    return windows[complete & fresh]


class WearDeriver:
    """The live ``wear`` table as a derive step of the ingestion pipeline (advisory only).

    Implements :class:`modax.pipeline.Deriver`: ``Pipeline(lake, derivers=[KernelDeriver(),
    WearDeriver(lake)])``. Readings of a device's open window wait in memory until a later reading
    closes it; accumulated hours start from the device's last row in the lake's ``wear`` table.
    Open windows are not written at :meth:`flush` (a partial window would count a whole window of
    operating time); :func:`update_wear` catches up from the lake after a restart.

    Parameters
    ----------
    lake : Lake or None
        Where earlier wear is read from (None: every device starts new).
    model : StressWearModel or None
        The wear model (default parameters when None).
    window_s : float
        Window length (s).

    Examples
    --------
    >>> deriver = WearDeriver()
    >>> deriver.process(telemetry_batch, device_safety_batch, now_ms)["wear"]  # doctest: +SKIP
    """

    def __init__(
        self, lake: Lake | None = None, model: StressWearModel | None = None, window_s: float = 60.0
    ) -> None:
        self.lake = lake
        self.model = model
        self.window_s = window_s
        self._pending: pd.DataFrame | None = None
        self._prior: dict[str, float] | None = None
        self._done: dict[str, pd.Timestamp] = {}

    def process(
        self, telemetry: pa.Table, device_safety: pa.Table, now_ms: int
    ) -> dict[str, pa.Table]:
        """Wear rows of the windows this batch closes, as ``{"wear": table}`` (may be empty)."""
        if self._prior is None:
            self._prior, self._done = _wear_state(self.lake, window_s=self.window_s)
        batch = telemetry.to_pandas()
        if batch.empty:
            return {}
        frame = batch if self._pending is None else pd.concat([self._pending, batch])
        windows = stress_windows(frame, self.window_s)
        closed = _complete_new(windows, self._done)
        still_open = windows[windows["last_ts"] < windows["window_end"]]
        start = still_open.groupby("device_id")["window_start"].min()
        opened = pd.to_datetime(frame["device_id"].map(start), utc=True)
        self._pending = frame[pd.to_datetime(frame["ts"], utc=True) >= opened]
        if closed.empty:
            return {}
        rows = wear_rows(closed, self.model, self._prior)
        latest = rows.to_pandas().groupby("device_id")[["window_start", "accumulated_h"]].last()
        self._prior.update(latest["accumulated_h"].to_dict())
        ends = pd.to_datetime(latest["window_start"], utc=True) + pd.Timedelta(
            seconds=self.window_s
        )
        self._done.update(ends.to_dict())
        return {"wear": rows}

    def flush(self) -> dict[str, pa.Table]:
        """Nothing: open windows stay unwritten (see the class notes)."""
        return {}


def _wear_state(
    lake: Lake | None, window_s: float
) -> tuple[dict[str, float], dict[str, pd.Timestamp]]:
    """Per device: accumulated hours and the end of its last window in the ``wear`` table."""
    if lake is None or not lake.exists("wear"):
        return {}, {}
    state = lake.read("wear", columns=["device_id", "window_start", "accumulated_h"])
    if state.num_rows == 0:
        return {}, {}
    last = state.to_pandas().sort_values("window_start").groupby("device_id").last()
    ends = pd.to_datetime(last["window_start"], utc=True) + pd.Timedelta(seconds=window_s)
    return last["accumulated_h"].to_dict(), ends.to_dict()
