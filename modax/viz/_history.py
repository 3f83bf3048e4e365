"""Device history from the lake, downsampled so a month of 10 Hz readings stays fast.

DuckDB does the heavy part where the data is: for long ranges it keeps only the minimum and the
maximum of every channel per time bucket (2 × ``max_points`` buckets), then :func:`lttb` picks
``max_points`` of those (MinMax-LTTB). Short ranges go straight to LTTB.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd

from modax.lake import LakeConnection
from modax.schema import TELEMETRY_CHANNELS
from modax.viz._lttb import lttb

__all__ = ["history"]

_COLUMNS = ["channel", "time", "value"]


def _epoch_ms(when: datetime) -> int:
    if when.tzinfo is None:
        raise ValueError(f"{when!r} has no time zone: pass an aware datetime (UTC)")
    return int(when.timestamp() * 1000)


def _downsample(channel: str, t: np.ndarray, v: np.ndarray, max_points: int) -> pd.DataFrame:
    keep = np.isfinite(v)
    t, v = t[keep], v[keep]
    t, first = np.unique(t, return_index=True)  # sorted; min and max of a bucket may coincide
    v = v[first]
    idx = lttb(t.astype(np.float64), v, max_points)
    return pd.DataFrame(
        {
            "channel": channel,
            "time": pd.to_datetime(t[idx], unit="ms", utc=True),
            "value": v[idx],
        }
    )


def history(
    con: LakeConnection,
    device_id: str,
    start: datetime,
    end: datetime,
    *,
    channels: tuple[str, ...] = TELEMETRY_CHANNELS,
    max_points: int = 2000,
) -> pd.DataFrame:
    """Readings of one device in ``[start, end)``, at most ``max_points`` per channel.

    Parameters
    ----------
    con : LakeConnection
        From :func:`modax.connect`; call ``con.refresh()`` first to see new commits.
    device_id : str
        The device.
    start, end : datetime
        Time range, timezone-aware (UTC).
    channels : tuple of str
        Columns of ``telemetry`` (A, m/s², °C); channels the table lacks or that have no value
        in the range are left out.
    max_points : int
        Points per channel at most.

    Returns
    -------
    pandas.DataFrame
        Long format: ``channel``, ``time`` (UTC), ``value``; empty without a ``telemetry`` table.

    Examples
    --------
    >>> import tempfile
    >>> from datetime import UTC
    >>> from modax import connect
    >>> history(connect(tempfile.mkdtemp()), "m1", datetime(2026, 1, 1, tzinfo=UTC),
    ...         datetime(2026, 1, 2, tzinfo=UTC)).empty
    True
    """
    unknown = set(channels) - set(TELEMETRY_CHANNELS)
    if unknown:
        raise ValueError(f"unknown telemetry channels {sorted(unknown)}")
    if "telemetry" not in con.tables:
        return pd.DataFrame(columns=_COLUMNS)
    present = set(con.sql("select * from telemetry limit 0").columns)
    channels = tuple(c for c in channels if c in present)
    lo, hi = _epoch_ms(start), _epoch_ms(end)
    where = "device_id = $device and ts >= make_timestamp_ms($lo) and ts < make_timestamp_ms($hi)"
    params = {"device": device_id, "lo": lo, "hi": hi}
    [(count,)] = con.execute(f"select count(*) from telemetry where {where}", params).fetchall()
    frames = []
    if count <= 4 * max_points:
        cols = ", ".join(channels)
        raw = con.execute(
            f"select epoch_ms(ts) as t, {cols} from telemetry where {where}", params
        ).df()
        t = raw["t"].to_numpy(np.int64)
        for channel in channels:
            frames.append(_downsample(channel, t, raw[channel].to_numpy(np.float64), max_points))
    else:
        width = max(1, (hi - lo) // (2 * max_points))
        aggs = ", ".join(
            f"arg_min(t, {c}) as {c}_tlo, min({c}) as {c}_lo, "
            f"arg_max(t, {c}) as {c}_thi, max({c}) as {c}_hi"
            for c in channels
        )
        buckets = con.execute(
            f"select {aggs} from (select epoch_ms(ts) as t, * from telemetry where {where}) "
            f"group by (t - $lo) // {width}",
            params,
        ).df()
        for c in channels:
            t = np.concatenate([buckets[f"{c}_tlo"], buckets[f"{c}_thi"]])
            v = np.concatenate([buckets[f"{c}_lo"], buckets[f"{c}_hi"]]).astype(np.float64)
            present = ~pd.isna(t)
            frames.append(_downsample(c, t[present].astype(np.int64), v[present], max_points))
    frames = [f for f in frames if not f.empty]
    if not frames:
        return pd.DataFrame(columns=_COLUMNS)
    return pd.concat(frames, ignore_index=True)
