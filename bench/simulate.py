"""Simulator throughput: batch generation, end to end into the lake, and live devices at 10 Hz.

Peer: the physics kernel's plain-Python reference twin (``simulate_chunk.py_func``) on the same
kind of fleet — what the model costs without numba. Prints one JSON object on its last line.

    .venv/bin/python bench/simulate.py [--devices 10000] [--duration 60]
        [--live 300,1000,2000,3000,4000] [--repeat 3] [--pool 0]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable

import numpy as np
import pyarrow as pa

from modax.lake import Lake
from modax.local import start_broker
from modax.testing import free_port
from simulator import Fleet, LivePublisher
from simulator._kernel import ChunkBuffers, FaultArrays, initial_state, run_chunk, simulate_chunk

#: Rows a Delta commit collects before it is written (bigger commits, fewer small files).
ROWS_PER_COMMIT = 1_000_000


def kernel_rate(fleet: Fleet, steps: int, kernel: object, repeat: int = 1) -> float:
    """Telemetry readings per second of the bare physics kernel (best of ``repeat``)."""
    out = ChunkBuffers.allocate(fleet.n_devices, steps)
    faults = FaultArrays.of(fleet.faults_, fleet.n_devices)
    best = float("inf")
    for _ in range(repeat):
        state = initial_state(fleet.params_)
        began = time.perf_counter()
        with np.errstate(over="ignore"):
            run_chunk(fleet.params_, state, fleet.keys_, faults, 0, steps, 1.0, -1.0, out, kernel)
        best = min(best, time.perf_counter() - began)
    return fleet.n_devices * steps / 2 / best


def batch(devices: int, duration: float, lake_root: str | None) -> dict[str, float]:
    """Generate ``duration`` s of ``devices`` devices, to tables only or into a lake.

    Pipelined (``Fleet.run(overlap=True)``): a chunk is appended to the lake on a worker thread
    while the next one is simulated and its tables made. Each lake table is committed once it
    holds :data:`ROWS_PER_COMMIT` rows (the small ones at the end): few commits, few small files.
    """
    fleet = Fleet(n_devices=devices, seed=1, scenario="mixed-faults")
    lake = Lake(lake_root) if lake_root else None
    pending: dict[str, list[pa.Table]] = {"telemetry": [], "device_safety": [], "quarantine": []}
    rows = 0

    def commit(name: str, at_least: int) -> None:
        if sum(t.num_rows for t in pending[name]) >= at_least:
            lake.append(name, pa.concat_tables(pending[name]))
            pending[name].clear()

    def sink(result) -> None:
        nonlocal rows
        rows += result.telemetry.num_rows
        if lake is not None:
            tables = result.tables()
            for name, parts in pending.items():
                parts.append(tables[name])
                commit(name, ROWS_PER_COMMIT)

    began = time.perf_counter()
    result = fleet.run(duration, on_chunk=sink, overlap=True)
    if lake is not None:
        for name in pending:
            commit(name, 1)
        lake.append("ground_truth", result.ground_truth)
        lake.append("remaining_life", result.remaining_life)
    wall = time.perf_counter() - began
    return {"wall_s": wall, "readings_per_s": rows / wall, "realtime_factor": duration / wall}


def lake_batch(devices: int, duration: float) -> dict[str, float]:
    """:func:`batch` into a fresh lake in a temporary directory."""
    with tempfile.TemporaryDirectory() as root:
        return batch(devices, duration, root)


def best_of(repeat: int, run: Callable[[], dict[str, float]]) -> dict[str, float]:
    """The fastest of ``repeat`` runs (the machine is shared: the others measure the others)."""
    return min((run() for _ in range(repeat)), key=lambda figures: figures["wall_s"])


def live(devices: int, seconds: float, url_port: int, pool: int | None) -> dict[str, float]:
    """Publish ``devices`` devices at real time for ``seconds``; did the process keep up?"""
    fleet = Fleet(n_devices=devices, seed=2, start=int(time.time() * 1000), prefix=f"b{devices}")
    publisher = LivePublisher(fleet, "127.0.0.1", url_port, speed=1.0, qos=0, pool=pool)
    publisher.connect(timeout=120.0)
    stats = publisher.run(seconds)
    return {
        "devices": devices,
        "pool": pool,
        "messages_per_s": round(stats.messages_per_s),
        "max_late_s": round(stats.max_late_s, 3),
        "sustained": stats.max_late_s < 0.5,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--duration", type=float, default=60.0, help="simulated seconds")
    parser.add_argument("--live", default="300,1000,2000,3000,4000", help="live device counts")
    parser.add_argument("--live-seconds", type=float, default=10.0)
    parser.add_argument("--repeat", type=int, default=3, help="best of this many batch runs")
    parser.add_argument("--pool", type=int, default=0, help="live clients shared (0: per device)")
    args = parser.parse_args()

    warm = Fleet(n_devices=10, seed=1, scenario="mixed-faults")
    warm.run(1.0)  # compile / load the numba cache
    figures: dict[str, object] = {"devices": args.devices, "simulated_s": args.duration}
    big = Fleet(n_devices=args.devices, seed=1, scenario="mixed-faults")
    big._draw(20.0)
    figures["kernel_readings_per_s"] = round(kernel_rate(big, 200, simulate_chunk, args.repeat))
    small = Fleet(n_devices=4, seed=1, scenario="mixed-faults")
    small._draw(20.0)
    figures["peer_python_twin_readings_per_s"] = round(
        kernel_rate(small, 40, simulate_chunk.py_func)
    )
    gen = best_of(args.repeat, lambda: batch(args.devices, args.duration, None))
    figures["readings_per_s"] = round(gen["readings_per_s"])
    figures["realtime_factor"] = round(gen["realtime_factor"], 1)
    lake = best_of(args.repeat, lambda: lake_batch(args.devices, args.duration))
    figures["lake_readings_per_s"] = round(lake["readings_per_s"])
    figures["lake_realtime_factor"] = round(lake["realtime_factor"], 1)
    figures["lake_to_generation_ratio"] = round(lake["readings_per_s"] / gen["readings_per_s"], 3)
    figures["numba_to_python_twin_ratio"] = round(
        figures["kernel_readings_per_s"] / figures["peer_python_twin_readings_per_s"]
    )
    runs = []
    with tempfile.TemporaryDirectory() as data, start_broker(free_port(), data_dir=data) as broker:
        for n in (int(x) for x in args.live.split(",") if x):
            runs.append(live(n, args.live_seconds, broker.port, args.pool or None))
            print(json.dumps(runs[-1]), flush=True)
    figures["live"] = runs
    figures["live_devices_sustained_10hz"] = max(
        (r["devices"] for r in runs if r["sustained"]), default=0
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
