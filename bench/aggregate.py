"""Windowed aggregation: modax's numba kernel against pandas, polars and DuckDB on the same data.

20 M readings of 1,000 devices at 10 Hz (6 float32 channels, int64 ms time, int32 device code),
1 s windows: count + mean, std, min, max of every channel (24 statistics). Two orders of the same
readings: arrival (time-ordered, devices interleaved: live ingestion) and device-sorted (a lake
scan). Every engine is timed from the arrays to its result table, best of ``--repeat`` runs.

    nice .venv/bin/python bench/aggregate.py             # the full run
    .venv/bin/python bench/aggregate.py --rows 2000000   # a quick one

The last line is one JSON object: rows/s per engine and order, ``ratio_vs_best_peer`` (ours over
the fastest peer, the smaller of the two orders), this machine's read bandwidth (numpy sum over
1 GiB) and ``fraction_of_bandwidth`` of our kernel on sorted data (bytes read + written / time).
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
from rich.console import Console

from modax.kernels.aggregate import WindowAggregator

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import PERIOD_MS, T0, arrival_order, best_of, device_phases

CHANNELS = [f"c{i}" for i in range(6)]
STATS = ["mean", "std", "min", "max"]
console = Console(stderr=True)


def make_data(rows: int, devices: int, order: str, seed: int) -> dict[str, np.ndarray]:
    """Readings every 100 ms per device; each device has its own phase within the 100 ms."""
    rng = np.random.default_rng(seed)
    per = rows // devices
    phase, device = device_phases(rng, devices)
    if order == "arrival":
        codes, ts = arrival_order(phase, device, per)
    else:
        by_code = np.empty(devices, np.int64)
        by_code[device] = phase
        codes = np.repeat(np.arange(devices, dtype=np.int32), per)
        periods = np.arange(per, dtype=np.int64) * PERIOD_MS
        ts = T0 + np.tile(periods, devices) + np.repeat(by_code, per)
    data = {"device": codes, "ts": ts}
    for i, c in enumerate(CHANNELS):
        data[c] = (5.0 + i + rng.standard_normal(len(ts), dtype=np.float32)).astype(np.float32)
    return data


SQL = (
    "select device, (ts // 1000) * 1000 as window_start, count(*) as count, "
    + ", ".join(f"avg({c}), stddev_samp({c}), min({c}), max({c})" for c in CHANNELS)
    + " from t group by all"
)


def peers(data: dict[str, np.ndarray], repeat: int) -> dict[str, float]:
    """Seconds per engine (best of ``repeat``)."""
    times = {}
    frame = pd.DataFrame(data)

    def run_pandas() -> pd.DataFrame:
        keyed = frame.assign(window_start=frame["ts"] // 1000 * 1000)
        grouped = keyed.groupby(["device", "window_start"], sort=False)
        out = grouped[CHANNELS].agg(STATS)
        out[("count", "")] = grouped.size()
        return out

    times["pandas"], _ = best_of(repeat, run_pandas)

    polars_frame = pl.DataFrame(data)
    aggs = [pl.len().alias("count")]
    for c in CHANNELS:
        col = pl.col(c)
        aggs += [col.mean(), col.std().alias(f"{c}_std"), col.min().alias(f"{c}_min")]
        aggs.append(col.max().alias(f"{c}_max"))

    def run_polars() -> pl.DataFrame:
        keyed = polars_frame.with_columns((pl.col("ts") // 1000 * 1000).alias("window_start"))
        return keyed.group_by(["device", "window_start"]).agg(aggs)

    times["polars"], _ = best_of(repeat, run_polars)

    con = duckdb.connect()
    arrow = pa.table(data)
    con.register("t", arrow)
    arrow_time, _ = best_of(repeat, lambda: con.sql(SQL).to_arrow_table())
    con.unregister("t")
    con.register("t", frame)
    pandas_time, _ = best_of(repeat, lambda: con.sql(SQL).to_arrow_table())
    con.close()
    times["duckdb"] = min(arrow_time, pandas_time)
    times["duckdb_arrow"], times["duckdb_pandas"] = arrow_time, pandas_time
    return times


def ours(data: dict[str, np.ndarray], repeat: int) -> tuple[float, pa.Table]:
    values = [data[c] for c in CHANNELS]

    def run() -> pa.Table:
        agg = WindowAggregator(1000, allowed_lateness_ms=0, channels=CHANNELS, stats=STATS)
        closed = agg.process_arrays(data["device"], data["ts"], values)
        return pa.concat_tables([closed, agg.flush_arrays()])

    run_small = {k: v[:1000] for k, v in data.items()}  # compile outside the timing
    WindowAggregator(1000, 0, CHANNELS, STATS).process_arrays(
        run_small["device"], run_small["ts"], [run_small[c] for c in CHANNELS]
    )
    return best_of(repeat, run)


def max_rel_error_vs_pandas(data: dict[str, np.ndarray], result: pa.Table, devices: int) -> float:
    """Our statistics against pandas in float64 on a sample of 20 devices."""
    sample = np.isin(data["device"], np.arange(min(devices, 20)))
    frame = pd.DataFrame({k: v[sample] for k, v in data.items()})
    for c in CHANNELS:
        frame[c] = frame[c].astype(np.float64)
    frame["window_start"] = frame["ts"] // 1000 * 1000
    want = frame.groupby(["device", "window_start"])[CHANNELS].agg(STATS)
    want.columns = [f"{c}_{s}" for c, s in want.columns]
    i = result.column_names.index("window_start")
    result = result.set_column(i, "window_start", result["window_start"].cast(pa.int64()))
    got = result.to_pandas()
    got = got[got["device"] < 20].set_index(["device", "window_start"]).sort_index()
    want = want.sort_index()
    if len(got) != len(want):
        return float("inf")
    worst = 0.0
    for column in want.columns:
        g, w = got[column].to_numpy(float), want[column].to_numpy(float)
        ok = ~np.isnan(w)
        if not np.array_equal(np.isnan(g), ~ok):
            return float("inf")
        worst = max(worst, float(np.max(np.abs(g[ok] - w[ok]) / np.maximum(np.abs(w[ok]), 1e-300))))
    return worst


def read_bandwidth() -> float:
    """Bytes/s of a numpy sum over 1 GiB (best of 3)."""
    big = np.ones(2**27)
    seconds, _ = best_of(3, big.sum)
    return big.nbytes / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000_000)
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    report: dict[str, object] = {"rows": args.rows, "devices": args.devices}
    ratios = {}
    for order in ("arrival", "sorted"):
        console.log(f"{order}: generating {args.rows:,} readings")
        data = make_data(args.rows, args.devices, order, args.seed)
        rows = len(data["ts"])
        console.log(f"{order}: peers (pandas, polars, duckdb)")
        times = peers(data, args.repeat)
        console.log(f"{order}: modax kernel")
        our_time, result = ours(data, args.repeat)
        for engine, seconds in times.items():
            report[f"{order}_{engine}_rows_per_s"] = round(rows / seconds)
        report[f"{order}_modax_rows_per_s"] = round(rows / our_time)
        best_peer = min(times[e] for e in ("pandas", "polars", "duckdb"))
        ratios[order] = best_peer / our_time
        report[f"{order}_ratio_vs_best_peer"] = round(ratios[order], 2)
        report[f"{order}_windows"] = result.num_rows
        report[f"{order}_max_rel_err_vs_pandas"] = max_rel_error_vs_pandas(
            data, result, args.devices
        )
        if order == "sorted":
            read = rows * sum(data[k].itemsize for k in data)
            written = sum(c.nbytes for c in result.columns)
            report["sorted_bytes_read"] = read
            report["sorted_bytes_written"] = written
            report["sorted_modax_seconds"] = round(our_time, 4)
            sorted_bytes_per_s = (read + written) / our_time
        del data, result
        gc.collect()
    console.log("read bandwidth")
    bandwidth = read_bandwidth()
    report["read_bandwidth_gb_per_s"] = round(bandwidth / 1e9, 2)
    report["ratio_vs_best_peer"] = round(min(ratios.values()), 2)
    report["fraction_of_bandwidth"] = round(sorted_bytes_per_s / bandwidth, 3)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
