"""Queries cost what they read: the clustered modax lake against the same rows unclustered.

In one run:

(1) a lake of ``--devices`` simulated motors × ``--minutes`` at 10 Hz through the normal write path:
    ``Pipeline.store`` in ingest-sized batches (``--batch-s`` seconds of the fleet, in arrival
    order: by time, then device), with a cycle of :class:`modax.lake.Maintenance` every
    ``--maintain-every-s`` simulated seconds on the open day (small files bin-packed, 1-minute
    rollups), and one when the day has closed (rewritten clustered by device and time), as
    ``modax maintain`` runs them. The
    simulator generates the first ``--block-s`` seconds; later blocks are the same readings shifted
    in time and ``seq`` (the physics is not what is measured, the layout is). The same rows go, in
    arrival order, to one plain Parquet file (row groups of 1 M rows, no clustering): the peer.
(2) write cost of clustering: rows/s of ``Lake.append`` of one ingest batch, sorted (now) and
    unsorted (before), each into a fresh table, best of ``--repeat``;
(3) queries, each timed on ``modax.connect()`` and on DuckDB over the peer file (median of
    ``--repeat`` after one warm-up): one device's full range (count/mean/max; 10 s buckets), ten
    devices over one hour, the fleet's daily means, the history view's query for one device
    (``modax.viz.history``; the lake side may use the rollup tables, the peer reads telemetry),
    and one device's count/mean/max from ``aggregates_1min`` (checked equal to the raw answer).
    A month is extrapolated from a sweep: one device's count/mean/max over the last eighth,
    quarter, half and all of the range, fitted by least squares as ``fixed + per-minute × range``;
    the month is ``30 × fixed + per-minute × 43,200`` (``one_device_month_extrapolated_s``: the
    fixed cost counted once per daily partition a month spans, which over-counts the query's own
    overhead). The plain
    ``measured × month / range`` (``…_naive_s``), which multiplies the fixed cost too, is kept.
    Bytes: compressed bytes of the row groups that the Arrow reader's file and row-group
    statistics cannot skip, for the one-device filter (both sides).

Usage::

    nice python bench/lake_queries.py [--devices 1000] [--minutes 120] [--batch-s 2]

Progress goes to stderr; the last line printed is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

import modax
from modax.lake import Lake, LakeConnection, Maintenance
from modax.lake.dask import table_fragments
from modax.pipeline import Pipeline
from modax.viz import history
from simulator import Fleet, SimResult

MONTH_DAYS = 30
MONTH_S = MONTH_DAYS * 86_400
PEER_ROW_GROUP = 1_000_000


def log(message: str) -> None:
    print(f"[bench/lake_queries] {message}", file=sys.stderr, flush=True)


def timed(action: Callable[[], Any]) -> tuple[Any, float]:
    began = time.perf_counter()
    value = action()
    return value, time.perf_counter() - began


def arrival_order(table: pa.Table) -> pa.Table:
    return table.sort_by([("ts", "ascending"), ("device_id", "ascending")])


def shifted(table: pa.Table, ms: int, seq: int) -> pa.Table:
    """``table`` moved ``ms`` later, its ``seq`` moved by ``seq``."""
    for name in ("ts", "received_at"):
        i = table.schema.get_field_index(name)
        moved = pc.add(table[name].cast(pa.int64()), ms).cast(table.schema.field(name).type)
        table = table.set_column(i, name, moved)
    i = table.schema.get_field_index("timestamp")
    table = table.set_column(i, "timestamp", pc.add(table["timestamp"], ms))
    i = table.schema.get_field_index("seq")
    table = table.set_column(i, "seq", pc.add(table["seq"], seq))
    i = table.schema.get_field_index("date")
    return table.set_column(i, "date", pc.cast(table["ts"], pa.date32()))


def build(args: argparse.Namespace, lake: Lake, peer: Path) -> dict[str, Any]:
    """(1): simulate one block, store it and its shifted copies; the peer file alongside."""
    fleet = Fleet(n_devices=args.devices, seed=0, scenario="healthy")
    chunks: list[SimResult] = []
    _, simulate_s = timed(
        lambda: fleet.run(args.block_s, on_chunk=chunks.append, chunk_s=args.batch_s)
    )
    log(f"simulated {args.block_s} s of {args.devices} devices in {simulate_s:.1f} s")
    pipeline = Pipeline(lake)
    blocks = -(-args.minutes * 60 // args.block_s)
    per_device = args.block_s * 10
    stored = 0
    buffer: list[pa.Table] = []
    store_s = 0.0
    writer: pq.ParquetWriter | None = None
    maintain_during_s = 0.0
    for k in range(blocks):
        for chunk in chunks:
            telemetry = arrival_order(
                shifted(chunk.telemetry, k * args.block_s * 1000, k * per_device)
            )
            safety = arrival_order(
                shifted(chunk.device_safety, k * args.block_s * 1000, k * per_device)
            )
            began = time.perf_counter()
            result = pipeline.store(
                telemetry, safety, rejected=chunk.quarantine if k == 0 else None
            )
            store_s += time.perf_counter() - began
            stored += result.rows.get("telemetry", 0)
            buffer.append(telemetry)
            if sum(t.num_rows for t in buffer) >= PEER_ROW_GROUP:
                rows = pa.concat_tables(buffer)
                writer = writer or pq.ParquetWriter(peer, rows.schema)
                writer.write_table(rows, row_group_size=PEER_ROW_GROUP)
                buffer = []
        log(f"block {k + 1}/{blocks}: {stored:,} readings stored, {stored / store_s:,.0f}/s")
        if ((k + 1) * args.block_s) % args.maintain_every_s == 0:
            now = datetime.fromtimestamp(fleet.start_ms / 1000 + (k + 1) * args.block_s, UTC)
            _, seconds = timed(Maintenance(lake, clock=lambda now=now: now).run_once)
            maintain_during_s += seconds
            files = sum(p.files for p in lake.layout("telemetry"))
            log(f"maintenance of the open day in {seconds:.1f} s: {files} telemetry files")
    _, close_s = timed(pipeline.close)
    if buffer:
        rows = pa.concat_tables(buffer)
        writer = writer or pq.ParquetWriter(peer, rows.schema)
        writer.write_table(rows, row_group_size=PEER_ROW_GROUP)
    assert writer is not None
    writer.close()
    before = {n: sum(p.files for p in lake.layout(n)) for n in lake.tables()}
    maintenance = Maintenance(lake)
    report, maintain_s = timed(maintenance.run_once)
    after = {n: sum(p.files for p in lake.layout(n)) for n in lake.tables()}
    log(f"maintenance in {maintain_s:.1f} s: files {before} → {after}")
    return {
        "devices": args.devices,
        "minutes": args.minutes,
        "readings": stored,
        "batch_rows": chunks[0].telemetry.num_rows,
        "store_s": round(store_s + close_s, 1),
        "readings_per_s_stored": round(stored / (store_s + close_s)),
        "maintain_open_day_s": round(maintain_during_s, 1),
        "maintain_closed_day_s": round(maintain_s, 1),
        "files_before_maintenance": before,
        "files_after_maintenance": after,
        "telemetry_bytes": sum(p.bytes for p in lake.layout("telemetry")),
        "peer_bytes": peer.stat().st_size,
        "rollup_rows": report["rollup_rows"],
        "first_batch": arrival_order(chunks[0].telemetry),
    }


def append_rates(batch: pa.Table, repeat: int) -> dict[str, float]:
    """(2): rows/s of ``Lake.append`` of one ingest batch, clustered and as before (unsorted)."""

    def rate(root: str) -> float:
        lake = Lake(root)
        lake.append("t", batch)  # creates the table: not timed
        return batch.num_rows / min(
            timed(lambda: lake.append("t", batch))[1] for _ in range(repeat)
        )

    sorted_rate = rate(tempfile.mkdtemp(prefix="bench-sorted-"))
    with mock.patch("modax.lake._delta.sorted_rows", lambda table: table):
        plain_rate = rate(tempfile.mkdtemp(prefix="bench-plain-"))
    return {
        "append_rows_per_s_unsorted": round(plain_rate),
        "append_rows_per_s_clustered": round(sorted_rate),
    }


def row_group_bytes(fragments: list[ds.Fragment], where: ds.Expression) -> dict[str, int]:
    """Files and row groups a reader with this filter cannot skip, and their compressed bytes."""
    files = groups = size = 0
    for fragment in fragments:
        kept = fragment.subset(where)
        if not kept.row_groups:
            continue
        files += 1
        meta = kept.metadata
        for group in kept.row_groups:
            groups += 1
            rg = meta.row_group(group.id)
            size += sum(rg.column(c).total_compressed_size for c in range(rg.num_columns))
    return {"files": files, "row_groups": groups, "bytes": size}


def same(ours: list[tuple], theirs: list[tuple]) -> bool:
    """Equal rows, floats to 1e-9 relative (sums in another order)."""

    def close(a: Any, b: Any) -> bool:
        if isinstance(a, float) and isinstance(b, float):
            return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
        return a == b

    return len(ours) == len(theirs) and all(
        len(x) == len(y) and all(close(a, b) for a, b in zip(x, y, strict=True))
        for x, y in zip(ours, theirs, strict=True)
    )


def median_s(action: Callable[[], Any], repeat: int) -> float:
    action()
    return statistics.median(timed(action)[1] for _ in range(repeat))


def queries(lake: Lake, peer: Path, start: datetime, minutes: int, repeat: int) -> dict[str, Any]:
    """(3): each query on the lake and on the peer file."""
    con = modax.connect(lake)
    plain = LakeConnection(Lake(tempfile.mkdtemp(prefix="bench-peer-")))
    plain.duckdb.execute(f"create view telemetry as select * from read_parquet('{peer}')")
    plain.tables = ["telemetry"]
    device = "sim-0042"
    ten = ", ".join(f"'sim-{d:04d}'" for d in range(7, 1000, 97)[:10])
    hour_lo = start + timedelta(minutes=max(0, minutes - 60) // 2)
    hour_hi = hour_lo + timedelta(minutes=min(60, minutes))
    sql = {
        "one_device_stats": "select count(*), avg(current_1), max(vib_mag) from telemetry "
        f"where device_id = '{device}'",
        "one_device_10s": "select time_bucket(interval 10 second, ts) as b, avg(current_1), "
        f"max(vib_mag) from telemetry where device_id = '{device}' group by 1 order by 1",
        "ten_devices_hour": "select device_id, count(*), avg(current_1), max(temp_1) "
        f"from telemetry where device_id in ({ten}) and ts >= '{hour_lo.isoformat()}' "
        f"and ts < '{hour_hi.isoformat()}' group by 1 order by 1",
        "fleet_daily_means": "select device_id, date_trunc('day', ts) as day, avg(current_1), "
        "avg(temp_1), max(vib_mag) from telemetry group by all order by 1, 2",
    }
    figures: dict[str, Any] = {}
    for name, query in sql.items():
        ours, theirs = con.sql(query).fetchall(), plain.sql(query).fetchall()
        assert same(ours, theirs), name
        figures[f"{name}_s"] = round(median_s(lambda q=query: con.sql(q).fetchall(), repeat), 4)
        figures[f"{name}_s_unclustered"] = round(
            median_s(lambda q=query: plain.sql(q).fetchall(), repeat), 4
        )
        log(f"{name}: {figures[f'{name}_s']} s vs {figures[f'{name}_s_unclustered']} s unclustered")
    rollup = (
        "select sum(count), sum(count * current_1_mean) / sum(count), max(vib_mag_max) "
        f"from aggregates_1min where device_id = '{device}'"
    )
    [(n, mean, peak)] = con.sql(rollup).fetchall()
    [(n_raw, mean_raw, peak_raw)] = con.sql(sql["one_device_stats"]).fetchall()
    assert (n, peak) == (n_raw, peak_raw) and math.isclose(mean, mean_raw, rel_tol=1e-9)
    figures["one_device_sweep"] = sweep(con, device, start, minutes, repeat)
    figures["one_device_stats_from_rollup_s"] = round(
        median_s(lambda: con.sql(rollup).fetchall(), repeat), 4
    )
    end = start + timedelta(minutes=minutes)
    view = history(con, device, start, end)
    assert not view.empty
    figures["history_s"] = round(median_s(lambda: history(con, device, start, end), repeat), 4)
    figures["history_s_unclustered"] = round(
        median_s(lambda: history(plain, device, start, end), repeat), 4
    )
    where = ds.field("device_id") == device
    figures["one_device_read"] = row_group_bytes(
        table_fragments("telemetry", lake, filters=where)[1], where
    )
    figures["one_device_read_unclustered"] = row_group_bytes(
        list(ds.dataset(peer, format="parquet").get_fragments()), where
    )
    return figures


def sweep(
    con: LakeConnection, device: str, start: datetime, minutes: int, repeat: int
) -> dict[str, Any]:
    """One device's count/mean/max over growing ranges (ending at the range's end), and the
    least-squares line ``seconds = fixed_s + per_minute_s × minutes`` through them."""
    end = start + timedelta(minutes=minutes)
    spans = [minutes / 8, minutes / 4, minutes / 2, minutes]
    seconds = []
    for span in spans:
        lo = end - timedelta(minutes=span)
        query = (
            "select count(*), avg(current_1), max(vib_mag) from telemetry "
            f"where device_id = '{device}' and ts >= '{lo.isoformat()}' "
            f"and ts < '{end.isoformat()}'"
        )
        seconds.append(median_s(lambda q=query: con.sql(q).fetchall(), repeat))
    mean_x, mean_y = statistics.fmean(spans), statistics.fmean(seconds)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(spans, seconds, strict=True)) / sum(
        (x - mean_x) ** 2 for x in spans
    )
    slope = max(slope, 0.0)
    return {
        "minutes": spans,
        "seconds": [round(x, 4) for x in seconds],
        "fixed_s": round(mean_y - slope * mean_x, 4),
        "per_minute_s": slope,
    }


def run(args: argparse.Namespace, root: str) -> dict[str, Any]:
    lake = Lake(root)
    peer = Path(root) / "peer.parquet"
    built = build(args, lake, peer)
    first = built.pop("first_batch")
    rates = append_rates(first, args.repeat)
    log(f"append rates: {rates}")
    [(start,)] = modax.connect(lake).sql("select min(ts) from telemetry").fetchall()
    q = queries(lake, peer, start, args.minutes, args.repeat)
    per_device_s = args.minutes * 60
    ratio = q["one_device_stats_s_unclustered"] / q["one_device_stats_s"]
    fleet = q["fleet_daily_means_s"] / q["fleet_daily_means_s_unclustered"]
    line = q["one_device_sweep"]
    month_s = MONTH_DAYS * max(line["fixed_s"], 0.0) + line["per_minute_s"] * MONTH_S / 60
    return {
        "bench": "lake_queries",
        "load_average": [round(x, 2) for x in os.getloadavg()],
        **built,
        **rates,
        **q,
        "one_device_ratio_vs_unclustered": round(ratio, 1),
        "one_device_10s_ratio_vs_unclustered": round(
            q["one_device_10s_s_unclustered"] / q["one_device_10s_s"], 1
        ),
        "ten_devices_hour_ratio_vs_unclustered": round(
            q["ten_devices_hour_s_unclustered"] / q["ten_devices_hour_s"], 1
        ),
        "history_ratio_vs_unclustered": round(q["history_s_unclustered"] / q["history_s"], 1),
        "fleet_daily_means_vs_unclustered": round(fleet, 2),
        "one_device_month_extrapolated_s": round(month_s, 2),
        "one_device_month_naive_s": round(q["one_device_stats_s"] * MONTH_S / per_device_s, 2),
        "one_device_month_from_rollup_extrapolated_s": round(
            q["one_device_stats_from_rollup_s"] * MONTH_S / per_device_s, 2
        ),
        "goals": {
            "one_device_ratio_ge_20": ratio >= 20,
            "fleet_le_1_1x": fleet <= 1.1,
            "one_device_month_lt_1s": month_s < 1,
            "clustered_append_above_ingest_rate": rates["append_rows_per_s_clustered"]
            > args.devices * 10,
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--minutes", type=int, default=120)
    parser.add_argument("--batch-s", type=int, default=2, help="seconds of the fleet per store")
    parser.add_argument("--block-s", type=int, default=60, help="seconds simulated, then repeated")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--maintain-every-s", type=int, default=300, help="simulated seconds between cycles"
    )
    parser.add_argument("--root", help="lake folder (default: a temporary one, removed)")
    args = parser.parse_args()
    if args.root:
        figures = run(args, args.root)
    else:
        with tempfile.TemporaryDirectory(prefix="bench-lake-queries-") as root:
            figures = run(args, root)
    print(json.dumps(figures, default=str))


if __name__ == "__main__":
    main()
