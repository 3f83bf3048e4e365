"""Periodic advisory updates: each device's latest anomaly score and remaining life, throttled."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from modax.schema import Advisory

__all__ = ["ScoreUpdates"]

_RUL_FIELDS = ("rul_h", "rul_low_h", "rul_high_h", "rul_cap_h")


def _last_per_device(table: pa.Table, time_column: str) -> dict[str, int]:
    """Row index of each device's latest row (by ``time_column``)."""
    if table.num_rows == 0:
        return {}
    devices = table["device_id"].to_numpy(zero_copy_only=False)
    times = pc.cast(table[time_column], pa.int64()).to_numpy(zero_copy_only=False)
    order = np.lexsort((times, devices))
    ends = np.flatnonzero(np.append(devices[order][1:] != devices[order][:-1], True))
    return {str(devices[order[i]]): int(order[i]) for i in ends}


class ScoreUpdates:
    """Plain advisory updates (``state=None``): score, threshold and remaining life per device.

    A device gets at most one update every ``interval_s`` seconds (event time of its readings);
    each carries its latest score and the latest remaining-life estimate seen for it.

    Parameters
    ----------
    interval_s : float
        Least time between two updates of a device, s.

    Examples
    --------
    >>> from modax.advisory import SCORES_SCHEMA
    >>> from modax.schema import REMAINING_LIFE_ESTIMATES_SCHEMA
    >>> scores = pa.table({"device_id": ["m1", "m1"], "seq": [1, 2], "ts": [1000, 2500],
    ...     "model": ["ls"] * 2, "score": [0.5, 0.7], "threshold": [1.0] * 2,
    ...     "alarm": [False] * 2, "advisory": [True] * 2}, schema=SCORES_SCHEMA)
    >>> rul = REMAINING_LIFE_ESTIMATES_SCHEMA.empty_table()
    >>> [(u.device_id, u.score) for u in ScoreUpdates().messages(scores, rul)]
    [('m1', 0.7)]
    >>> ScoreUpdates().messages(scores.slice(0, 0), rul)
    []
    """

    def __init__(self, interval_s: float = 1.0) -> None:
        self.interval_s = interval_s
        self._sent_ms: dict[str, int] = {}
        self._rul: dict[str, dict[str, float | None]] = {}
        self._score: dict[str, tuple[int, str, float, float]] = {}

    def messages(self, scores: pa.Table, estimates: pa.Table) -> list[Advisory]:
        """Updates due after a batch's ``scores`` and remaining-life ``estimates`` rows."""
        touched: dict[str, int] = {}
        for device, row in _last_per_device(estimates, "ts").items():
            values = {f: estimates[f][row].as_py() for f in _RUL_FIELDS}
            self._rul[device] = values
            touched[device] = int(pc.cast(estimates["ts"][row], pa.int64()).as_py())
        for device, row in _last_per_device(scores, "ts").items():
            ts = int(pc.cast(scores["ts"][row], pa.int64()).as_py())
            model, score, threshold = (
                scores["model"][row].as_py(),
                scores["score"][row].as_py(),
                scores["threshold"][row].as_py(),
            )
            self._score[device] = (ts, model, score, threshold)
            touched[device] = max(ts, touched.get(device, ts))
        out = []
        for device, ts in sorted(touched.items()):
            if ts - self._sent_ms.get(device, -(2**62)) < self.interval_s * 1000:
                continue
            self._sent_ms[device] = ts
            _, model, score, threshold = self._score.get(device, (ts, None, None, None))
            out.append(
                Advisory(
                    device,
                    ts,
                    model=model,
                    score=score,
                    threshold=threshold,
                    **self._rul.get(device, {}),  # type: ignore[arg-type]
                )
            )
        return out
