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

from modax.kernels.aggregate import WindowAggregator
from modax.lake import Lake
from modax.models.wear.stress import PRIOR_COLUMN, STRESS_COLUMNS, StressWearModel
from modax.schema import UTC_MS

__all__ = [
    "TELEMETRY_COLUMNS",
    "WEAR_SCHEMA",
    "StressWindows",
    "WearDeriver",
    "by_device_and_time",
    "stress_windows",
    "update_wear",
    "wear_rows",
]

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


#: Per-reading columns the stress windows are aggregated from (see :class:`StressWindows`).
_ROW_CHANNELS = (
    "c_sum", "c_n", "c_max", "t_sum", "t_n", "t_max",
    "vib_x", "vib_y", "vib_z", "x_ok", "y_ok", "z_ok", "vib_mag", "mag_ok", "running",
)  # fmt: skip


class StressWindows:
    """Streaming stress windows per device: each window once, when a later reading closes it.

    Telemetry batches go through :meth:`process` in any split; per device, a window closes when
    a reading at or after its end arrives (readings for a closed window are late and left out,
    counted in :attr:`late_count`). The statistics come from the numba window kernel
    (:class:`~modax.kernels.aggregate.WindowAggregator`) over a few per-reading columns (sums,
    counts and maxima across the channels, each axis, a running flag), so a batch costs the same
    however long the windows are.

    Parameters
    ----------
    window_s : float
        Window length (s).
    running_current_a : float
        A reading counts as operating time when any current channel is above this (A).

    Examples
    --------
    >>> import simulator  # doctest: +SKIP
    >>> telemetry = simulator.Fleet(n_devices=2, seed=1).run(180).telemetry  # doctest: +SKIP
    >>> stream = StressWindows(window_s=60)  # doctest: +SKIP
    >>> closed = stream.process(telemetry)  # windows 0 and 1 of each device  # doctest: +SKIP
    >>> still_open = stream.flush()  # window 2, no later reading yet  # doctest: +SKIP
    """

    def __init__(self, window_s: float = 60.0, running_current_a: float = 0.5) -> None:
        if window_s <= 0:
            raise ValueError(f"window_s: must be > 0 s, got {window_s}")
        self.window_s = window_s
        self.running_current_a = running_current_a
        self._windows = WindowAggregator(
            width_ms=round(window_s * 1000),
            allowed_lateness_ms=0,
            channels=_ROW_CHANNELS,
            stats=("mean", "std", "max"),
        )

    @property
    def late_count(self) -> int:
        """Readings that came after their window had closed (left out)."""
        return self._windows.late_count

    def process(self, telemetry: pa.Table) -> pd.DataFrame:
        """The windows this batch closes, as :func:`stress_windows` gives them (no ``last_ts``)."""
        return self._stresses(self._windows.process(self._rows(telemetry)))

    def flush(self) -> pd.DataFrame:
        """Every window still open (end of the data), then forgotten."""
        return self._stresses(self._windows.flush())

    def _rows(self, telemetry: pa.Table) -> pa.Table:
        """``device_id``, ``ts`` and the per-reading columns of :data:`_ROW_CHANNELS`."""
        _require(telemetry)

        def matrix(names: list[str]) -> np.ndarray:
            return np.column_stack([_floats(telemetry[name]) for name in names])

        currents, temps = matrix(_CURRENTS), matrix(_TEMPS)
        columns = {"device_id": telemetry["device_id"], "ts": telemetry["ts"]}
        for prefix, values in (("c", currents), ("t", temps)):
            finite = np.isfinite(values)
            columns[f"{prefix}_sum"] = np.where(finite, values, 0.0).sum(axis=1)
            columns[f"{prefix}_n"] = finite.sum(axis=1).astype(np.float64)
            columns[f"{prefix}_max"] = np.where(finite, values, -np.inf).max(axis=1)
        for name, ok in (
            ("vib_x", "x_ok"),
            ("vib_y", "y_ok"),
            ("vib_z", "z_ok"),
            ("vib_mag", "mag_ok"),
        ):
            values = _floats(telemetry[name])
            columns[name] = values
            columns[ok] = np.isfinite(values).astype(np.float64)
        running = (np.nan_to_num(currents, nan=0.0) > self.running_current_a).any(axis=1)
        columns["running"] = running.astype(np.float64)
        return pa.table(columns)

    def _stresses(self, windows: pa.Table) -> pd.DataFrame:
        """The kernel's window statistics turned into :data:`STRESS_COLUMNS`."""
        w = {
            name: windows[name].to_numpy(zero_copy_only=False) for name in windows.column_names[1:]
        }
        n = w["count"].astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            axes = [_variance(w[f"{axis}_std"], w[f"{ok}_mean"] * n) for axis, ok in _AXIS_OK]
            frame = pd.DataFrame(
                {
                    "device_id": windows["device_id"].to_pandas(),
                    "window_start": windows["window_start"].to_pandas(),
                    "n_samples": w["count"],
                    "current_mean_a": w["c_sum_mean"] / w["c_n_mean"],
                    "current_max_a": w["c_max_max"],
                    "vib_mean_ms2": np.sqrt(np.nansum(axes, axis=0)),
                    "vib_std_ms2": np.sqrt(_variance(w["vib_mag_std"], w["mag_ok_mean"] * n)),
                    "temp_mean_c": w["t_sum_mean"] / w["t_n_mean"],
                    "temp_max_c": w["t_max_max"],
                    "window_s": float(self.window_s) * w["running_mean"],
                }
            )
        frame["window_end"] = frame["window_start"] + pd.Timedelta(seconds=self.window_s)
        frame = frame.replace([np.inf, -np.inf], np.nan)
        return frame.sort_values(["device_id", "window_start"]).reset_index(drop=True)


#: Telemetry columns the stress windows are computed from.
TELEMETRY_COLUMNS = ("device_id", "ts", *_CURRENTS, *_AXES, "vib_mag", *_TEMPS)
_AXIS_OK = (("vib_x", "x_ok"), ("vib_y", "y_ok"), ("vib_z", "z_ok"))


def _require(telemetry: pa.Table) -> None:
    """Raise ``ValueError`` naming the telemetry columns the stress windows need and miss."""
    missing = [c for c in TELEMETRY_COLUMNS if c not in telemetry.column_names]
    if missing:
        raise ValueError(f"telemetry: missing column(s) {', '.join(missing)}")


def by_device_and_time(telemetry: pa.Table) -> pa.Table:
    """``telemetry`` with ``ts`` as UTC ms, sorted by device and time (each window in order)."""
    ts = pc.cast(telemetry["ts"], UTC_MS)
    table = telemetry.set_column(telemetry.column_names.index("ts"), "ts", ts)
    return table.sort_by([("device_id", "ascending"), ("ts", "ascending")])


def _floats(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """A column as float64 with NaN for nulls."""
    return pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False)


def _variance(std: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Population variance (ddof 0) from the sample standard deviation of ``n`` values.

    One value: 0; none: NaN.
    """
    return np.where(n == 1.0, 0.0, std * std * (n - 1.0) / n)


def stress_windows(
    telemetry: pa.Table | pd.DataFrame, window_s: float = 60.0, running_current_a: float = 0.5
) -> pd.DataFrame:
    """Per device and ``window_s`` window: the stress columns the MODAX model takes.

    Parameters
    ----------
    telemetry : pyarrow.Table or pandas.DataFrame
        Rows with ``device_id``, ``ts`` (UTC) and the telemetry channels
        (:data:`modax.schema.TELEMETRY_SCHEMA`), in any order.
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
    table = telemetry if isinstance(telemetry, pa.Table) else pa.Table.from_pandas(telemetry)
    stream = StressWindows(window_s, running_current_a)
    _require(table)
    table = by_device_and_time(table)
    windows = pd.concat([stream.process(table), stream.flush()], ignore_index=True)
    last = (
        table.group_by("device_id")
        .aggregate([("ts", "max")])
        .rename_columns(["device_id", "last_ts"])
    )
    windows = windows.merge(last.to_pandas(), on="device_id", how="left")
    return windows.sort_values(["device_id", "window_start"]).reset_index(drop=True)


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
    windows = stress_windows(telemetry, window_s)
    windows = _fresh(windows[windows["last_ts"] >= windows["window_end"]], done)
    if windows.empty:
        return 0
    rows = wear_rows(windows, model, prior, computed_at)
    lake.append("wear", rows)
    return rows.num_rows


def _fresh(windows: pd.DataFrame, done: dict[str, pd.Timestamp]) -> pd.DataFrame:
    """The windows that start at or after their device's ``done`` time (all, for new devices)."""
    floor = pd.to_datetime(windows["device_id"].map(done), utc=True)
    return windows[floor.isna() | (windows["window_start"] >= floor)]


class WearDeriver:
    """The live ``wear`` table as a derive step of the ingestion pipeline (advisory only).

    Implements :class:`modax.pipeline.Deriver`: ``Pipeline(lake, derivers=[KernelDeriver(),
    WearDeriver(lake)])``. A device's open window is kept as running sums
    (:class:`StressWindows`) until a later reading closes it; accumulated hours start from the
    device's last row in the lake's ``wear`` table.
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
        self._windows = StressWindows(window_s)
        self._prior: dict[str, float] | None = None
        self._done: dict[str, pd.Timestamp] = {}

    def process(
        self, telemetry: pa.Table, device_safety: pa.Table, now_ms: int
    ) -> dict[str, pa.Table]:
        """Wear rows of the windows this batch closes, as ``{"wear": table}`` (may be empty)."""
        if self._prior is None:
            self._prior, self._done = _wear_state(self.lake, window_s=self.window_s)
        if telemetry.num_rows == 0:
            return {}
        closed = _fresh(self._windows.process(by_device_and_time(telemetry)), self._done)
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
