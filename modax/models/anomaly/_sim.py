"""Labelled 1 Hz series per device from simulator telemetry and ground truth (for ``eval sim``).

modax does not import the simulator: this takes its Arrow tables (``telemetry`` and the
per-row ``labels()``), so any labelled telemetry works the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from modax.models.metrics import changepoints_from_alarms
from modax.schema import TELEMETRY_CHANNELS

__all__ = ["SIM_PARAMS", "LabelledSeries", "device_series"]

#: Channels every simulated device has, for detectors that name their columns.
SIM_PARAMS = {"modax-baseline": {"current": ("current_1",), "temperature": ("temp_1",)}}


@dataclass(frozen=True)
class LabelledSeries:
    """One device's 1 Hz readings with point labels and changepoints (SKAB-shaped)."""

    name: str
    data: pd.DataFrame
    anomaly: np.ndarray
    changepoint: np.ndarray


def device_series(telemetry: pa.Table, anomaly: pa.Array | np.ndarray) -> list[LabelledSeries]:
    """Per-device series of 1 s means, labelled anomalous where most readings are.

    Parameters
    ----------
    telemetry : pyarrow.Table
        Rows of ``modax.schema.TELEMETRY_SCHEMA`` (any devices, any order).
    anomaly : array of bool
        Ground truth per telemetry row (e.g. ``SimResult.labels()["anomaly"]``).

    Returns
    -------
    list of LabelledSeries
        One per device, sorted by device id, with the channels the device has; a second
        without a reading of some channel (a dropout) repeats the last value.
    """
    if len(anomaly) != telemetry.num_rows:
        raise ValueError(f"{len(anomaly)} labels for {telemetry.num_rows} telemetry rows")
    frame = telemetry.select(["device_id", "ts", *TELEMETRY_CHANNELS]).to_pandas()
    frame["anomaly"] = np.asarray(anomaly, dtype=np.float64)
    frame["second"] = frame["ts"].dt.floor("1s")
    means = frame.drop(columns="ts").groupby(["device_id", "second"], sort=True).mean()
    out = []
    for device, group in means.groupby(level="device_id", sort=True):
        rows = group.droplevel("device_id")
        labels = (rows.pop("anomaly").to_numpy() >= 0.5).astype(np.int8)
        data = rows.dropna(axis="columns", how="all").ffill().bfill()
        out.append(LabelledSeries(str(device), data, labels, changepoints_from_alarms(labels)))
    return out
