"""Fleet-scale run: a large simulated fleet written to an S3 lake, queried back by DuckDB and Dask.

In one run, on the same data:

(1) ``simulator.Fleet`` in batch mode (``--devices`` motors, ``--seconds`` simulated at 10 Hz)
    goes through ``modax.pipeline.Pipeline.store`` — dedupe, safety, derived tables — into a lake
    on S3 (a local ``moto`` server unless ``MODAX_LAKE`` is an ``s3://`` URI with ``AWS_*`` set);
    figures: simulated and stored readings per second, files and bytes per date partition.
(2) the same first chunk of telemetry appended to a lake on local disk and to the S3 lake (the peer
    storage), rows/s each;
(3) a fleet-wide aggregate (per device and hour: count, mean current, peak vibration, hottest
    winding) by DuckDB (``modax.connect``) and by Dask (``modax.lake.dask.read_table`` on a
    ``distributed.LocalCluster``), checked equal; a one-device query by both, files pruned;
(4) ``Lake.compact`` of ``telemetry`` (files and bytes before/after), then (3) again;
(5) ``telemetry`` rewritten in Z-order of ``device_id``, then (3) again (files per device);
(6) the first chunk appended again in ``--small-commits`` small commits, as live ingesters commit,
    and the DuckDB aggregate over it before and after compaction.

Usage::

    nice python bench/fleet_scale.py [--devices 100000] [--seconds 6] [--chunk-s 1] [--workers 2]

Progress goes to stderr; the last line printed is one JSON object with every figure, the DuckDB /
Dask time ratios and the compaction effect.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from distributed import Client, LocalCluster
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

import modax
from modax.lake import Lake
from modax.lake.dask import read_table, table_fragments
from modax.local import LocalS3Server
from modax.pipeline import Pipeline
from simulator import Fleet, SimResult

AGGREGATE_SQL = """
    select device_id, date_trunc('hour', ts) as hour, count(*) as readings,
           avg(current_1) as current_mean, max(vib_mag) as vib_peak, max(temp_1) as temp_max
    from telemetry group by all
"""
ONE_DEVICE_SQL = "select count(*), avg(current_1) from telemetry where device_id = '{device}'"
COLUMNS = ["device_id", "ts", "current_1", "vib_mag", "temp_1"]


def log(message: str) -> None:
    print(f"[bench/fleet_scale] {message}", file=sys.stderr, flush=True)


def timed(action: Callable[[], Any]) -> tuple[Any, float]:
    began = time.perf_counter()
    value = action()
    return value, time.perf_counter() - began


def partitions(lake: Lake, name: str) -> dict[str, Any]:
    """Files and bytes per date partition of a table's current snapshot."""
    actions = lake._table(name).get_add_actions(flatten=True)
    dates = actions["partition.date"].to_pylist()
    sizes = actions["size_bytes"].to_pylist()
    per_date: dict[str, list[int]] = {}
    for day, size in zip(dates, sizes, strict=True):
        per_date.setdefault(str(day), []).append(size)
    return {
        "files": len(sizes),
        "bytes": sum(sizes),
        "dates": len(per_date),
        "files_per_partition": round(len(sizes) / max(len(per_date), 1), 1),
        "mb_per_partition": round(sum(sizes) / max(len(per_date), 1) / 1e6, 1),
        "mb_per_file": round(sum(sizes) / max(len(sizes), 1) / 1e6, 2),
    }


def simulate_into(lake: Lake, devices: int, seconds: float, chunk_s: float) -> dict[str, Any]:
    """(1): batch simulation through the pipeline into ``lake``; returns figures + first chunk."""
    fleet = Fleet(n_devices=devices, seed=0, scenario="healthy")
    pipeline = Pipeline(lake)
    stored = {"rows": 0, "store_s": 0.0}
    first: list[pa.Table] = []

    with Progress(
        TextColumn("simulating → lake"),
        BarColumn(),
        TextColumn("{task.completed:,.0f}/{task.total:,.0f} s simulated"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as progress:
        task = progress.add_task("sim", total=seconds)

        def store(chunk: SimResult) -> None:
            if not first:
                first.append(chunk.telemetry)
            began = time.perf_counter()
            result = pipeline.store(chunk.telemetry, chunk.device_safety, rejected=chunk.quarantine)
            stored["store_s"] += time.perf_counter() - began
            stored["rows"] += result.rows.get("telemetry", 0)

        _, wall = timed(
            lambda: fleet.run(
                seconds,
                on_chunk=store,
                chunk_s=chunk_s,
                progress=lambda s: progress.advance(task, s),
            )
        )
        _, close_s = timed(pipeline.close)
    store_s = stored["store_s"] + close_s
    return {
        "devices": devices,
        "simulated_s": seconds,
        "telemetry_rows": stored["rows"],
        "wall_s": round(wall + close_s, 2),
        "simulate_s": round(wall - stored["store_s"], 2),
        "store_s": round(store_s, 2),
        "rows_per_s_stored": round(stored["rows"] / store_s),
        "rows_per_s_end_to_end": round(stored["rows"] / (wall + close_s)),
        "first_chunk": first[0],
    }


def append_rate(lake: Lake, chunk: pa.Table) -> float:
    """(2): rows/s of one plain ``Lake.append`` of ``chunk`` into table ``append_probe``."""
    _, seconds = timed(lambda: lake.append("append_probe", chunk))
    return chunk.num_rows / seconds


def queries(lake: Lake, client: Client, device: str) -> dict[str, Any]:
    """(3): the fleet aggregate and a one-device query, by DuckDB and by Dask."""
    with modax.connect(lake) as con:
        duck, duck_s = timed(lambda: con.sql(AGGREGATE_SQL).to_arrow_table())
        duck_one, duck_one_s = timed(
            lambda: con.sql(ONE_DEVICE_SQL.format(device=device)).fetchall()
        )

    def dask_aggregate() -> Any:
        frame = read_table("telemetry", lake, columns=COLUMNS)
        frame = frame.assign(hour=frame["ts"].dt.floor("h"))
        return (
            frame.groupby(["device_id", "hour"])
            .agg(
                readings=("current_1", "count"),
                current_mean=("current_1", "mean"),
                vib_peak=("vib_mag", "max"),
                temp_max=("temp_1", "max"),
            )
            .compute()
        )

    ours, dask_s = timed(dask_aggregate)
    filters = [("device_id", "==", device)]
    one, dask_one_s = timed(
        lambda: read_table("telemetry", lake, columns=["current_1"], filters=filters).compute()
    )
    _, kept = table_fragments("telemetry", lake, filters=filters)
    _, every = table_fragments("telemetry", lake)
    duck_readings = pc.sum(duck["readings"]).as_py()
    same = (
        len(ours) == duck.num_rows
        and int(ours["readings"].sum()) == duck_readings
        and abs(float(ours["vib_peak"].max()) - pc.max(duck["vib_peak"]).as_py()) < 1e-6
        and len(one) == duck_one[0][0]
    )
    if not same:
        raise AssertionError("Dask and DuckDB disagree on the fleet aggregate")
    return {
        "groups": duck.num_rows,
        "readings": duck_readings,
        "duckdb_aggregate_s": round(duck_s, 2),
        "dask_aggregate_s": round(dask_s, 2),
        "dask_over_duckdb": round(dask_s / duck_s, 2),
        "duckdb_one_device_s": round(duck_one_s, 3),
        "dask_one_device_s": round(dask_one_s, 3),
        "one_device_files_read": len(kept),
        "files_in_table": len(every),
        "results_equal": same,
    }


def small_files(lake: Lake, chunk: pa.Table, commits: int) -> dict[str, Any]:
    """(5): ``chunk`` appended in ``commits`` small commits, as live ingesters commit; the fleet
    aggregate by DuckDB before and after ``compact``."""
    name = "telemetry_small_commits"
    step = -(-chunk.num_rows // commits)
    for offset in range(0, chunk.num_rows, step):
        lake.append(name, chunk.slice(offset, step))
    sql = AGGREGATE_SQL.replace("from telemetry", f"from {name}")

    def aggregate_s() -> float:
        with modax.connect(lake) as con:
            return timed(lambda: con.sql(sql).to_arrow_table())[1]

    before, before_s = partitions(lake, name), aggregate_s()
    _, compact_s = timed(lambda: lake.compact(name))
    after, after_s = partitions(lake, name), aggregate_s()
    return {
        "rows": chunk.num_rows,
        "files_before": before["files"],
        "files_after": after["files"],
        "duckdb_aggregate_s_before": round(before_s, 2),
        "duckdb_aggregate_s_after": round(after_s, 2),
        "speedup": round(before_s / after_s, 2),
        "compact_s": round(compact_s, 2),
    }


def z_ordered(lake: Lake, client: Client, device: str) -> dict[str, Any]:
    """(6): ``telemetry`` rewritten in ``device_id`` Z-order: a device's rows in few files."""
    _, seconds = timed(lambda: lake._table("telemetry").optimize.z_order(["device_id"]))
    figures = queries(lake, client, device)
    return {"z_order_s": round(seconds, 2), **partitions(lake, "telemetry"), **figures}


def run(args: argparse.Namespace, root: str) -> dict[str, Any]:
    lake = Lake(root)
    log(f"simulating {args.devices:,} devices × {args.seconds:g} s at 10 Hz into {root}")
    written = simulate_into(lake, args.devices, args.seconds, args.chunk_s)
    first = written.pop("first_chunk")
    log(f"stored: {json.dumps(written)}")
    with tempfile.TemporaryDirectory() as tmp:
        local_rate = append_rate(Lake(tmp), first)
    s3_rate = append_rate(lake, first)
    before = partitions(lake, "telemetry")
    device = f"sim-{args.devices // 2:0{max(4, len(str(args.devices - 1)))}d}"
    with (
        LocalCluster(
            n_workers=args.workers, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        log("querying (DuckDB, Dask) before compaction")
        q_before = queries(lake, client, device)
        log(f"before compaction: {json.dumps({**before, **q_before})}")
        compaction, compact_s = timed(lambda: lake.compact("telemetry"))
        after = partitions(lake, "telemetry")
        log(f"compacted in {compact_s:.1f} s: {json.dumps(after)}")
        q_after = queries(lake, client, device)
        log(f"after compaction: {json.dumps(q_after)}")
        ordered = z_ordered(lake, client, device)
        log(f"z-ordered by device_id: {json.dumps(ordered)}")
    small = small_files(lake, first, args.small_commits)
    log(f"small commits: {json.dumps(small)}")
    derived = {
        name: partitions(lake, name)
        for name in lake.tables()
        if name not in ("append_probe", "telemetry_small_commits")
    }
    return {
        "benchmark": "fleet_scale",
        "lake": "s3 (moto, local)" if args.local_s3 else root.split("/", maxsplit=1)[0] + "//…",
        "machine_cores": os.cpu_count(),
        "write": written,
        "append_rows_per_s": {
            "local_disk": round(local_rate),
            "s3": round(s3_rate),
            "s3_over_local": round(s3_rate / local_rate, 2),
        },
        "tables": derived,
        "telemetry_before_compaction": before,
        "telemetry_after_compaction": after,
        "compaction": {**compaction, "seconds": round(compact_s, 2)},
        "query_before_compaction": q_before,
        "query_after_compaction": q_after,
        "query_after_z_order_by_device": ordered,
        "small_commits_then_compaction": small,
        "compaction_speedup_duckdb": round(
            q_before["duckdb_aggregate_s"] / q_after["duckdb_aggregate_s"], 2
        ),
        "compaction_speedup_dask": round(
            q_before["dask_aggregate_s"] / q_after["dask_aggregate_s"], 2
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=6.0, help="simulated s (10 Hz)")
    parser.add_argument("--chunk-s", type=float, default=1.0, help="simulated s per lake commit")
    parser.add_argument("--workers", type=int, default=2, help="Dask workers")
    parser.add_argument(
        "--small-commits", type=int, default=200, help="commits of the small-file phase"
    )
    args = parser.parse_args()
    root = os.environ.get("MODAX_LAKE", "")
    args.local_s3 = not root.startswith("s3://")
    if not args.local_s3:
        figures = run(args, root)
    else:
        with LocalS3Server() as s3:
            os.environ.update(s3.environ())
            figures = run(args, f"{s3.create_bucket('fleet')}/lake")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
