"""Remaining-life 80 % intervals: coverage of test units, calibrated (ours) against uncalibrated.

Peer: the same quantile models without calibration (``calibration=0``: the pinball-loss quantiles
as fitted). Ours: split-conformal calibration on held-out training units (decision 0017).

- C-MAPSS: ``gbm-quantile`` on every subset found in ``--dir`` (FD001–FD004), the interval at
  each test engine's last cycle against ``RUL_FD00x`` (capped at 125), mean ± std over seeds.
- Simulated run-to-failure fleets: ``fit_windows(..., "gbm-quantile")`` (the live model) fitted on
  one fleet and scored at every window of a fleet with another seed whose truth is exact
  (hours), mean ± std over simulator seeds.

Prints one JSON object on its last line.

    nice .venv/bin/python bench/rul_intervals.py [--seeds 3] [--sim-seeds 4] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

import simulator
from modax.models.wear import rul_windows
from modax.models.wear.cmapss import run_cmapss
from modax.models.wear.sim import fit_windows


def sim_coverage(seed: int, devices: int, duration_s: float, calibration: float) -> dict:
    """Coverage and mean width (h) on a held-out fleet of the interval fitted on another."""
    frames = [
        rul_windows(run.telemetry, run.remaining_life)
        for run in (
            simulator.Fleet(devices, seed=seed, scenario="run-to-failure").run(duration_s),
            simulator.Fleet(devices, seed=seed + 1000, scenario="run-to-failure").run(duration_s),
        )
    ]
    train, test = frames
    model = fit_windows(train, "gbm-quantile", random_state=seed, calibration=calibration)
    bands = model.predict_quantiles(test)[test["rul_exact"].to_numpy()]
    truth = test["rul_s"].to_numpy()[test["rul_exact"].to_numpy()] / 3600.0
    inside = (truth >= bands[:, 0]) & (truth <= bands[:, -1])
    return {"coverage": float(inside.mean()), "width_h": float((bands[:, -1] - bands[:, 0]).mean())}


def summary(runs: list[dict]) -> dict:
    return {
        f"{key}{suffix}": float(fn([run[key] for run in runs]))
        for key in runs[0]
        for suffix, fn in (("", np.mean), ("_std", np.std))
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", default="data/cmapss")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--sim-seeds", type=int, default=4)
    parser.add_argument("--sim-devices", type=int, default=16)
    parser.add_argument("--sim-duration-s", type=float, default=3 * 3600)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--skip-cmapss", action="store_true")
    args = parser.parse_args()
    started = time.perf_counter()
    report: dict = {"nominal": 0.8, "cmapss": {}, "sim": {}}
    with threadpool_limits(args.threads):
        for name in ("ours", "peer"):
            calibration = 0.3 if name == "ours" else 0.0
            runs = [
                sim_coverage(seed, args.sim_devices, args.sim_duration_s, calibration)
                for seed in range(args.sim_seeds)
            ]
            report["sim"][name] = summary(runs)
            print(
                f"sim {name}: coverage {report['sim'][name]['coverage']:.3f} "
                f"± {report['sim'][name]['coverage_std']:.3f}",
                flush=True,
            )
        subsets = sorted(p.stem.removeprefix("RUL_") for p in Path(args.dir).glob("RUL_FD00*.txt"))
        for subset in [] if args.skip_cmapss else subsets:
            result = run_cmapss(args.dir, subset, ["gbm-quantile"], seeds=args.seeds)
            scores = result["models"]["gbm-quantile"]
            report["cmapss"][subset] = {
                key: scores[key]
                for key in ("coverage", "coverage_std", "width", "width_std", "rmse", "rmse_std")
            }
            print(
                f"{subset}: coverage {scores['coverage']:.3f} ± {scores['coverage_std']:.3f}",
                flush=True,
            )
    report["sim_settings"] = {
        "devices": args.sim_devices,
        "duration_s": args.sim_duration_s,
        "seeds": args.sim_seeds,
    }
    report["cmapss_seeds"] = args.seeds
    report["wall_s"] = time.perf_counter() - started
    print(json.dumps(report))


if __name__ == "__main__":
    main()
