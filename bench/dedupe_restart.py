"""The dedupe index after a restart: time and memory of the first batch on today's partition.

In one run, each measurement in a fresh Python process (so its memory is its own):

(a) **full read** — the index reads the identity columns of every file of today's partition,
    as it must when nothing was persisted (and as every restart did before the index was saved);
(b) **saved index** — the index that a previous ingester saved beside the table
    (``{lake}/_state/dedupe/telemetry/``) is loaded, and only the files committed after it are
    read;
(c) **a day at fleet scale** — the saved index of a whole day of 1,000 devices × 10 Hz
    (864 M readings, ``seq`` counting up per device) built synthetically in its interval form,
    with ``--loss`` of the readings missing in bursts of ``--burst`` (the gaps are what the index
    holds), loaded as in (b).

The partition of (a) and (b) holds ``--rows`` readings of 1,000 devices (written once, reused from
``--work`` if there). The time of (a) at a day's 864 M rows is extrapolated linearly from
``--rows`` (it reads and sorts every row). Its memory now follows the slice it reads (1 M rows);
before the index was saved, the whole date was read at once and memory grew with the rows too
(930 MB at 10 M rows, so about 80 GB at a day: run this file with the older ``modax`` on the path,
it then measures (a) only).

Usage::

    nice python bench/dedupe_restart.py [--rows 10000000] [--work /tmp/modax-dedupe-bench]

The last line is one JSON object: seconds and MB (peak RSS growth) of each, the full read's time
extrapolated to a day, the speed-up of (c) over it, and the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

DEVICES = 1_000
DAY = 20_415  # 2025-11-23
DAY_MS = DAY * 86_400_000
PER_DAY = 864_000  # readings per device per day at 10 Hz


def log(message: str) -> None:
    print(f"[bench/dedupe_restart] {message}", file=sys.stderr, flush=True)


def build_partition(root: Path, rows: int, files: int = 20) -> None:
    """``rows`` readings of today, ``seq`` consecutive per device, in ``files`` commits."""
    from modax.lake import Lake

    lake = Lake(root)
    per = rows // DEVICES
    step = per // files
    for f in range(files):
        seq = np.arange(f * step, (f + 1) * step, dtype=np.int64)
        codes = np.tile(np.arange(DEVICES), step)
        seqs = np.repeat(seq, DEVICES)
        ts = DAY_MS + seqs * 100 + codes % 100
        table = pa.table(
            {
                "device_id": pa.array([f"esp32-{c:04d}" for c in range(DEVICES)]).take(
                    pa.array(codes)
                ),
                "seq": seqs,
                "timestamp": ts,
                "ts": pa.array(ts, pa.timestamp("ms", tz="UTC")),
            }
        )
        lake.append("telemetry", table)
    log(f"wrote {per * DEVICES:,} rows in {files} commits under {root}")


def _peak_reset() -> None:
    Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM (the peak RSS)


def _mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1]) / 1024
    raise KeyError(field)


def first_batch(root: str) -> dict[str, float]:
    """In this process: a fresh index takes one batch of today; its time and peak RSS growth."""
    from modax.lake import Lake
    from modax.pipeline import DedupeIndex

    lake = Lake(root)
    warm = DedupeIndex(Lake(Path(root).parent / "warm"), "telemetry")  # numba compiled
    warm.new_rows(pa.array(["w"]), pa.array([1]), pa.array([1]), pa.array([0], pa.date32()))
    dev = pa.array([f"esp32-{c:04d}" for c in range(100)])
    seq = pa.array(np.full(100, 10**9, np.int64))
    ts = pa.array(np.full(100, DAY_MS + 1), pa.timestamp("ms", tz="UTC"))
    date = pa.array(np.full(100, DAY, np.int32)).cast(pa.date32())
    _peak_reset()
    before = _mb("VmRSS")
    start = time.perf_counter()
    index = DedupeIndex(lake, "telemetry")
    new = index.new_rows(dev, seq, ts, date)
    seconds = time.perf_counter() - start
    assert new.all()
    return {"s": seconds, "mb": _mb("VmHWM") - before, "index_mb": index.nbytes / 2**20}


def in_subprocess(step: str, root: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--step", step, "--work", str(root)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def save_index(root: str) -> dict[str, float]:
    """A previous ingester's work: index today's partition and save it beside the table."""
    from modax.lake import Lake
    from modax.pipeline import DedupeIndex

    index = DedupeIndex(Lake(root), "telemetry")
    index.new_rows(pa.array(["x"]), pa.array([0]), pa.array([0]), pa.array([DAY], pa.date32()))
    index.save()
    return {"intervals": float(index.nbytes)}


def fleet_day(root: str, loss: float, burst: int) -> dict[str, float]:
    """Save the interval form of a day of 1,000 devices × 10 Hz with ``loss`` in bursts."""
    from modax.lake import Lake, arrow_filesystem
    from modax.pipeline import DedupeIndex
    from modax.pipeline._identities import IdentitySet, write_identities

    lake = Lake(root)
    ts = pa.array([DAY_MS], pa.timestamp("ms", tz="UTC"))
    lake.append("telemetry", pa.table({"device_id": ["x"], "seq": [0], "timestamp": [0], "ts": ts}))
    rng = np.random.default_rng(0)
    gaps = int(PER_DAY * loss / burst)  # lost bursts per device
    lo, hi, codes = [], [], []
    for d in range(DEVICES):
        starts = np.sort(rng.choice(PER_DAY // burst, gaps, replace=False)) * burst
        edges = np.r_[0, np.ravel(np.c_[starts, starts + burst]), PER_DAY]
        lo.append(edges[0::2])
        hi.append(edges[1::2] - 1)
        codes.append(np.full(len(edges) // 2, d))
    identities = IdentitySet.from_intervals(
        np.concatenate(codes), np.concatenate(lo).astype(np.uint64), np.concatenate(hi)
    )
    path = DedupeIndex(lake, "telemetry").saved_path(DAY)
    filesystem = arrow_filesystem(lake.root, {})
    filesystem.create_dir(path.rsplit("/", 1)[0])
    names = pa.array([f"esp32-{c:04d}" for c in range(DEVICES)])
    with filesystem.open_output_stream(path) as sink:
        write_identities(sink, names, identities, lake.version("telemetry"))
    return {"intervals": float(len(identities)), "index_mb": identities.nbytes / 2**20}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--loss", type=float, default=0.01, help="share of readings lost")
    parser.add_argument("--burst", type=int, default=10, help="readings lost together")
    parser.add_argument("--work", type=Path, default=Path("/tmp/modax-dedupe-bench"))
    parser.add_argument("--step", choices=["first", "save", "fleet"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    part = args.work / f"rows-{args.rows}" / "lake"
    fleet = args.work / "fleet-day" / "lake"
    if args.step == "first":
        print(json.dumps(first_batch(str(args.work))))
        return
    if args.step == "save":
        print(json.dumps(save_index(str(args.work))))
        return
    if args.step == "fleet":
        print(json.dumps(fleet_day(str(args.work), args.loss, args.burst)))
        return

    if not part.exists():
        build_partition(part, args.rows)
    state = part / "_state"
    subprocess.run(["rm", "-rf", str(state)], check=True)
    full = in_subprocess("first", part)
    log(f"(a) full read of {args.rows:,} rows: {full}")
    scale = DEVICES * PER_DAY / args.rows
    results: dict[str, object] = {
        "rows": args.rows,
        "full_read": full,
        "full_read_day_extrapolated_s": full["s"] * scale,
    }
    try:
        in_subprocess("save", part)
    except subprocess.CalledProcessError as exc:  # an index that cannot be saved: (a) only
        log(f"no saved index here: {exc.stderr.strip().splitlines()[-1]}")
    else:
        saved = in_subprocess("first", part)
        log(f"(b) saved index: {saved}")
        if fleet.exists():
            subprocess.run(["rm", "-rf", str(fleet)], check=True)
        fleet.mkdir(parents=True)
        step = ["--step", "fleet", "--work", str(fleet)]
        made = json.loads(
            subprocess.run(
                [
                    sys.executable,
                    __file__,
                    *step,
                    "--loss",
                    str(args.loss),
                    "--burst",
                    str(args.burst),
                ],
                check=True,
                capture_output=True,
                text=True,
            ).stdout.strip()
        )
        day = in_subprocess("first", fleet)
        log(f"(c) a day at fleet scale ({made['intervals']:,.0f} intervals): {day}")
        results.update(
            saved_index=saved,
            fleet_day={**day, "intervals": made["intervals"], "loss": args.loss},
            day_speedup=full["s"] * scale / day["s"],
        )
    results["load_avg"] = os.getloadavg()
    print(json.dumps(results))


if __name__ == "__main__":
    main()
