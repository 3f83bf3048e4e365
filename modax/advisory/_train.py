"""Fit a detector on telemetry history from the lake, ready to save for live use."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from modax.advisory._model import AdvisoryModel
from modax.lake import Lake
from modax.models.anomaly import Detector, make_detector
from modax.models.metrics import point_metrics
from modax.schema import TELEMETRY_CHANNELS

__all__ = ["train_from_lake"]

#: The simulator's fault intervals, when the lake holds simulated history.
_TRUTH = "ground_truth"


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
    When the lake holds the simulator's ``ground_truth``, readings inside a fault are left out
    of the fit, and the metrics (``alarm_rate``; ``precision``, ``recall``, ``f1`` per reading
    against the faults) are measured on the whole selection.

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
    faulty = _in_faults(lake, table)
    model = make_detector(detector, random_state).fit(rows[~faulty] if faulty.any() else rows)
    ts = table["ts"]
    training = {
        "rows": int((~faulty).sum()),
        "start": pc.min(ts).as_py(),
        "end": pc.max(ts).as_py(),
        "devices": sorted(set(table["device_id"].to_pylist())),
        "detector": detector,
        "table": "telemetry",
        "table_version": lake.version("telemetry"),
        "fault_rows_left_out": int(faulty.sum()),
    }
    metrics = _metrics(model, table, rows, faulty if lake.exists(_TRUTH) else None)
    return AdvisoryModel(
        model,
        {"name": detector, "features": features, "training": training, "metrics": metrics},
    )


def _in_faults(lake: Lake, table: pa.Table) -> np.ndarray:
    """Rows inside a fault of the simulator's ``ground_truth`` (none without that table)."""
    faulty = np.zeros(table.num_rows, dtype=bool)
    if not lake.exists(_TRUTH):
        return faulty
    truth = lake.read(_TRUTH, columns=["device_id", "start_ts", "end_ts"])
    devices = table["device_id"].to_numpy(zero_copy_only=False)
    ms = pc.cast(table["ts"], pa.int64()).to_numpy(zero_copy_only=False)
    for device, start, end in zip(
        truth["device_id"].to_pylist(),
        pc.cast(truth["start_ts"], pa.int64()).to_pylist(),
        pc.cast(truth["end_ts"], pa.int64()).to_pylist(),
        strict=True,
    ):
        faulty |= (devices == device) & (ms >= start) & (ms < (end if end is not None else 2**62))
    return faulty


def _metrics(
    model: Detector, table: pa.Table, rows: np.ndarray, faulty: np.ndarray | None
) -> dict[str, float]:
    """Alarm rate on the selection; with ground truth, point precision, recall and F1."""
    devices = table["device_id"].to_numpy(zero_copy_only=False)
    alarms = np.zeros(len(rows), dtype=bool)
    for device in np.unique(devices):
        mask = devices == device
        alarms[mask] = model.predict(rows[mask]).astype(bool)
    metrics = {"alarm_rate": float(alarms.mean())}
    if faulty is not None:
        found = point_metrics(faulty.astype(np.int8), alarms.astype(np.int8))
        metrics |= {"precision": found.precision, "recall": found.recall, "f1": found.f1}
    return metrics
