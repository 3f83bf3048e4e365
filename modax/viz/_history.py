"""Device history from the lake, downsampled so a month of 10 Hz readings stays fast.

DuckDB does the heavy part where the data is: for long ranges it keeps only the minimum and the
maximum of every channel per time bucket (2 × ``max_points`` buckets), then :func:`lttb` picks
``max_points`` of those (MinMax-LTTB). Short ranges go straight to LTTB.

Buckets are read from the coarsest table that still resolves them: ``aggregates_1min`` (rolled up
by ``modax maintain``) when a bucket spans a minute or more, ``aggregates_1s`` when it spans a
second or more, ``telemetry`` otherwise. A summary's minimum is drawn at its window's start and its
maximum at the window's last millisecond (both are somewhere inside). The part of the range a
summary does not cover yet (the newest minutes) is read from the next finer table, so a plot never
loses its end.
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
#: Summary tables, coarsest first, and their window width (ms).
SUMMARIES = (("aggregates_1min", 60_000), ("aggregates_1s", 1_000))
_WHERE = "device_id = $device and {t} >= make_timestamp_ms($lo) and {t} < make_timestamp_ms($hi)"


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
    where = _WHERE.format(t="ts")
    params = {"device": device_id, "lo": lo, "hi": hi}
    width = max(1, (hi - lo) // (2 * max_points))
    summaries = [(n, w) for n, w in SUMMARIES if n in con.tables and w <= width]
    frames = []
    count = 4 * max_points + 1  # summaries: buckets in any case
    if not summaries:
        [(count,)] = con.execute(f"select count(*) from telemetry where {where}", params).fetchall()
    if count <= 4 * max_points:
        cols = ", ".join(channels)
        raw = con.execute(
            f"select epoch_ms(ts) as t, {cols} from telemetry where {where}", params
        ).df()
        t = raw["t"].to_numpy(np.int64)
        for channel in channels:
            frames.append(_downsample(channel, t, raw[channel].to_numpy(np.float64), max_points))
    else:
        buckets = _buckets(con, summaries, channels, params, width)
        for c in (c for c in channels if f"{c}_tlo" in buckets.columns):
            t = np.concatenate([buckets[f"{c}_tlo"], buckets[f"{c}_thi"]])
            v = np.concatenate([buckets[f"{c}_lo"], buckets[f"{c}_hi"]]).astype(np.float64)
            present = ~pd.isna(t)
            frames.append(_downsample(c, t[present].astype(np.int64), v[present], max_points))
    frames = [f for f in frames if not f.empty]
    if not frames:
        return pd.DataFrame(columns=_COLUMNS)
    return pd.concat(frames, ignore_index=True)


def _buckets(
    con: LakeConnection,
    summaries: list[tuple[str, int]],
    channels: tuple[str, ...],
    params: dict[str, object],
    width: int,
) -> pd.DataFrame:
    """Min and max (and when) of each channel per bucket of ``width`` ms, from ``summaries``.

    Each summary covers the range up to its newest window of the device; what is left goes to
    the next finer table, ``telemetry`` last.
    """
    parts = []
    lo, hi = int(params["lo"]), int(params["hi"])  # type: ignore[call-overload]
    for name, size in summaries:
        if lo >= hi:
            break
        sub = {**params, "lo": lo, "hi": hi}
        [(last,)] = con.execute(
            f"select epoch_ms(max(window_start)) from {name} "
            f"where {_WHERE.format(t='window_start')}",
            sub,
        ).fetchall()
        if last is None:
            continue
        columns = set(con.sql(f"select * from {name} limit 0").columns)
        have = [c for c in channels if f"{c}_min" in columns]
        parts.append(_bucket_query(name, size, have, width, sub))
        lo = last + size
    if lo < hi:
        sub = {**params, "lo": lo, "hi": hi}
        parts.append(_bucket_query("telemetry", 0, list(channels), width, sub))
    frames = [con.execute(sql, sub).df() for sql, sub in parts]
    return pd.concat([f for f in frames if not f.empty] or frames[:1], ignore_index=True)


def _bucket_query(
    table: str, size: int, channels: list[str], width: int, params: dict[str, object]
) -> tuple[str, dict[str, object]]:
    """SQL for the min/max per bucket of ``channels``: readings, or windows ``size`` ms wide."""
    if size:
        low, high = "_min", "_max"
        times = f"epoch_ms(window_start) as t, epoch_ms(window_start) + {size - 1} as t_end"
        where = _WHERE.format(t="window_start")
    else:
        low = high = ""
        times = "epoch_ms(ts) as t, epoch_ms(ts) as t_end"
        where = _WHERE.format(t="ts")
    aggs = ", ".join(
        f"arg_min(t, {c}{low}) as {c}_tlo, min({c}{low}) as {c}_lo, "
        f"arg_max(t_end, {c}{high}) as {c}_thi, max({c}{high}) as {c}_hi"
        for c in channels
    )
    sql = (
        f"select {aggs} from (select {times}, * from {table} where {where}) "
        f"group by (t - $lo) // {width}"
    )
    return sql, params
