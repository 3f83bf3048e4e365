"""Remaining life on NASA C-MAPSS: the published floor against modax's models, one run, same data.

Peer: gradient boosting on 30-cycle window features (last value, mean, slope of the 14 informative
sensors, per-condition normalisation) — the floor measured for the issue (≈ 13.3 RMSE on FD001).
Ours: ``gbm``, ``mlp`` and ``ensemble`` (mean of the two). Mean ± std over seeds, never the best
seed. Prints one JSON object on its last line.

    nice .venv/bin/python bench/wear_cmapss.py [--dir data/cmapss] [--subset FD001] [--seeds 5]
"""

from __future__ import annotations

import argparse
import json
import time

from threadpoolctl import threadpool_limits

from modax.models.wear.cmapss import run_cmapss

PEER = "gbm-window"
OURS = ("gbm", "mlp", "ensemble")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", default="data/cmapss")
    parser.add_argument("--subset", default="FD001")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    started = time.perf_counter()
    with threadpool_limits(args.threads):
        report = run_cmapss(args.dir, args.subset, [PEER, *OURS], seeds=args.seeds)
    models = report["models"]
    peer = models[PEER]
    for name in OURS:
        print(f"{name}: rmse {models[name]['rmse']:.2f} ± {models[name]['rmse_std']:.2f}")
    print(f"{PEER} (peer): rmse {peer['rmse']:.2f} ± {peer['rmse_std']:.2f}")
    report["peer"] = PEER
    report["rmse_ratio_vs_peer"] = {n: models[n]["rmse"] / peer["rmse"] for n in OURS}
    report["wall_s"] = time.perf_counter() - started
    print(json.dumps(report))


if __name__ == "__main__":
    main()
