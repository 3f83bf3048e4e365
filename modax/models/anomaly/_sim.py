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
    """One device's 1 Hz readings with point labels and changepoints (SKAB-shaped).

    ``kinds`` names the fault active in each second (``None`` where there is none), so the
    protocol can report recall per kind of fault. :func:`device_series` makes them from
    simulator tables; :func:`run_skab` and :func:`evaluate_skab` take them like SKAB files.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> labels = np.array([0, 0, 1, 1], dtype=np.int8)
    >>> LabelledSeries("m1", pd.DataFrame({"current_1": [4.0, 4.1, 9.0, 9.2]}), labels,
    ...                np.diff(labels, prepend=0)).changepoint.tolist()
    [0, 0, 1, 0]
    """

    name: str
    data: pd.DataFrame
    anomaly: np.ndarray
    changepoint: np.ndarray
    kinds: np.ndarray | None = None


def device_series(
    telemetry: pa.Table,
    anomaly: pa.Array | np.ndarray,
    fault: pa.Array | np.ndarray | None = None,
) -> list[LabelledSeries]:
    """Per-device series of 1 s means, labelled anomalous where most readings are.

    Parameters
    ----------
    telemetry : pyarrow.Table
        Rows of ``modax.schema.TELEMETRY_SCHEMA`` (any devices, any order).
    anomaly : array of bool
        Ground truth per telemetry row (e.g. ``SimResult.labels()["anomaly"]``).
    fault : array of str, optional
        The fault active per telemetry row (``SimResult.labels()["fault"]``, null if none);
        each second gets its most frequent one.

    Returns
    -------
    list of LabelledSeries
        One per device, sorted by device id, with the channels the device has; a second
        without a reading of some channel (a dropout) repeats the last value.

    Examples
    --------
    Three minutes of one device at 10 Hz whose current steps from 4 A to 9 A after 150 s:

    >>> import numpy as np, pyarrow as pa
    >>> from modax.schema import TELEMETRY_SCHEMA
    >>> ms = np.arange(0, 180_000, 100)
    >>> amps = np.where(ms < 150_000, 4.0, 9.0)
    >>> telemetry = pa.Table.from_pylist(
    ...     [{"device_id": "m1", "timestamp": t, "ts": t, "current_1": a, "temp_1": 40.0}
    ...      for t, a in zip(ms.tolist(), amps.tolist())],
    ...     schema=TELEMETRY_SCHEMA,
    ... )
    >>> [series] = device_series(telemetry, amps > 6)
    >>> len(series.data), list(series.data.columns), int(series.anomaly.sum())
    (180, ['current_1', 'temp_1'], 30)
    """
    if len(anomaly) != telemetry.num_rows:
        raise ValueError(f"{len(anomaly)} labels for {telemetry.num_rows} telemetry rows")
    frame = telemetry.select(["device_id", "ts", *TELEMETRY_CHANNELS]).to_pandas()
    frame["anomaly"] = np.asarray(anomaly, dtype=np.float64)
    frame["second"] = frame["ts"].dt.floor("1s")
    means = frame.drop(columns="ts").groupby(["device_id", "second"], sort=True).mean()
    kinds = None
    if fault is not None:
        values = fault.to_pylist() if hasattr(fault, "to_pylist") else list(fault)
        names = pd.Series(values, index=frame.index, dtype=object)
        keyed = frame[["device_id", "second"]].assign(kind=names).dropna(subset=["kind"])
        kinds = keyed.groupby(["device_id", "second"])["kind"].agg(lambda k: k.mode().iloc[0])
    out = []
    for device, group in means.groupby(level="device_id", sort=True):
        rows = group.droplevel("device_id")
        labels = (rows.pop("anomaly").to_numpy() >= 0.5).astype(np.int8)
        data = rows.dropna(axis="columns", how="all").ffill().bfill()
        per_second = None
        if kinds is not None:
            found = kinds.xs(device, level="device_id") if device in kinds.index else None
            per_second = np.full(len(rows), None, dtype=object)
            if found is not None:
                per_second = np.array(found.reindex(rows.index).tolist(), dtype=object)
            per_second[labels == 0] = None
        out.append(
            LabelledSeries(str(device), data, labels, changepoints_from_alarms(labels), per_second)
        )
    return out
