"""Fit a detector on telemetry history from the lake, ready to save for live use."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from modax.advisory._model import AdvisoryModel
from modax.lake import Lake
from modax.models.anomaly import make_detector
from modax.schema import TELEMETRY_CHANNELS

__all__ = ["train_from_lake"]


def train_from_lake(
    lake: Lake,
    detector: str,
    *,
    devices: list[str] | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    features: list[str] | None = None,
    random_state: int | None = 0,
) -> AdvisoryModel:
    """Fit the registry detector ``detector`` on ``telemetry`` rows of the lake.

    Rows are taken per device in event-time order and stacked device after device. Without
    ``features``, every telemetry channel that has no missing value in the selection is used.

    Raises
    ------
    ValueError
        When the lake has no telemetry, the selection is empty, or a feature is missing.
    """
    if not lake.exists("telemetry"):
        raise ValueError(f"{lake.root}: no telemetry table to train on")
    condition = ds.scalar(True)
    if devices:
        condition &= ds.field("device_id").isin(devices)
    if start is not None:
        condition &= ds.field("ts") >= pa.scalar(start, pa.timestamp("ms", tz="UTC"))
    if end is not None:
        condition &= ds.field("ts") < pa.scalar(end, pa.timestamp("ms", tz="UTC"))
    table = lake.read("telemetry", filter=condition)
    if table.num_rows == 0:
        raise ValueError("no telemetry rows match the devices and time range given")
    table = table.sort_by([("device_id", "ascending"), ("ts", "ascending"), ("seq", "ascending")])
    if features is None:
        features = [c for c in TELEMETRY_CHANNELS if table[c].null_count == 0]
    unknown = [f for f in features if f not in TELEMETRY_CHANNELS]
    if unknown:
        raise ValueError(f"unknown feature(s) {unknown}; telemetry channels: {TELEMETRY_CHANNELS}")
    incomplete = [f for f in features if table[f].null_count]
    if incomplete or not features:
        raise ValueError(f"feature(s) {incomplete or 'none'} have missing values in the selection")
    rows = np.column_stack([table[f].to_numpy(zero_copy_only=False) for f in features])
    model = make_detector(detector, random_state).fit(rows)
    ts = table["ts"]
    training = {
        "rows": table.num_rows,
        "start": pc.min(ts).as_py(),
        "end": pc.max(ts).as_py(),
        "devices": sorted(set(table["device_id"].to_pylist())),
        "detector": detector,
    }
    return AdvisoryModel(model, {"name": detector, "features": features, "training": training})
