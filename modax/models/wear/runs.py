"""Run-to-failure training data from simulator output: one row per device life and window.

The simulator's ``remaining_life`` table (1 Hz: ``device_id``, ``ts``, ``damage``, ``failed``,
``rul_s``, ``rul_exact``) gives the true remaining life; a replaced motor starts a new life (its
damage drops). Joined with the stress windows of the telemetry, each life becomes a unit whose rows
are its windows in order — the shape :class:`RULRegressor` and :func:`evaluate_rul` take, with the
stress statistics as sensors. This module reads tables only; it does not import the simulator.

Examples
--------
>>> run = simulator.Fleet(6, seed=2, scenario="run-to-failure").run(3 * 3600)  # doctest: +SKIP
>>> frame = rul_windows(run.telemetry, run.remaining_life)  # doctest: +SKIP
>>> model = RULRegressor(WindowFeatures(RUL_SENSORS), cap=None)  # doctest: +SKIP
>>> model.fit(frame, frame["rul_s"])  # doctest: +SKIP
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa

from modax.models.wear.live import stress_windows

__all__ = ["RUL_SENSORS", "rul_windows"]

#: Stress statistics used as sensors of a simulated device.
RUL_SENSORS = (
    "current_mean_a",
    "current_max_a",
    "vib_mean_ms2",
    "vib_std_ms2",
    "temp_mean_c",
    "temp_max_c",
)


def rul_windows(
    telemetry: pa.Table | pd.DataFrame,
    remaining_life: pa.Table | pd.DataFrame,
    window_s: float = 60.0,
) -> pd.DataFrame:
    """Stress windows of each device life with the true remaining life at each window's end.

    Returns
    -------
    pandas.DataFrame
        ``unit`` (``"{device_id}#{life}"``), ``cycle`` (window number in the life, from 1),
        ``device_id``, ``window_start``, the stress columns, ``damage``, ``rul_s`` (true remaining
        life, s) and ``rul_exact``; only complete windows of a running (not failed) motor.
    """
    truth = remaining_life.to_pandas() if isinstance(remaining_life, pa.Table) else remaining_life
    needed = ("device_id", "ts", "damage", "failed", "rul_s", "rul_exact")
    missing = [c for c in needed if c not in truth.columns]
    if missing:
        raise ValueError(f"remaining_life: missing column(s) {', '.join(missing)}")
    truth = truth.assign(ts=pd.to_datetime(truth["ts"], utc=True)).sort_values(["device_id", "ts"])
    renewed = truth.groupby("device_id")["damage"].diff() < 0
    truth["life"] = renewed.astype(int).groupby(truth["device_id"]).cumsum()
    truth["window_start"] = truth["ts"].dt.floor(pd.Timedelta(seconds=window_s))
    per_window = truth.groupby(["device_id", "window_start"]).agg(
        life=("life", "last"),
        damage=("damage", "last"),
        failed=("failed", "max"),
        renewed=("life", "nunique"),
        rul_s=("rul_s", "last"),
        rul_exact=("rul_exact", "last"),
    )
    windows = stress_windows(telemetry, window_s)
    windows = windows[windows["last_ts"] >= windows["window_end"]]
    frame = windows.join(per_window, on=["device_id", "window_start"], how="inner")
    frame = frame[~frame["failed"].astype(bool) & (frame["renewed"] == 1)]
    frame = frame.sort_values(["device_id", "window_start"]).reset_index(drop=True)
    frame["unit"] = frame["device_id"].astype(str) + "#" + frame["life"].astype(str)
    frame["cycle"] = frame.groupby("unit").cumcount() + 1
    columns = ["unit", "cycle", "device_id", "window_start", *RUL_SENSORS, "window_s"]
    return frame[[*columns, "damage", "rul_s", "rul_exact"]]
