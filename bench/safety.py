"""Safety rules: modax's stateful numba kernel against a vectorised pandas version of the rules.

Readings of 1,000 devices at 10 Hz in arrival order (time-ordered, devices interleaved), with two
motor currents, two temperatures and three vibration axes, and injected overloads, hot spells,
imbalance and stuck sensors. pandas evaluates overload, overtemp, current imbalance and sensor
stuck (the rules that vectorise: ``temp_rise``'s moving anchor does not) and extracts their state
changes per device; the kernel evaluates all rules including ``temp_rise`` and ``stale``. The
events of the shared rules must be identical.

    nice .venv/bin/python bench/safety.py             # the full run (10 M readings)
    .venv/bin/python bench/safety.py --rows 1000000   # a quick one

The last line is one JSON object: readings/s of each and ``ratio_vs_pandas``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from rich.console import Console

from modax.kernels.safety import KINDS, SafetyChecker, SafetyConfig

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import arrival_order, best_of, device_phases

SHARED = ("overload", "overtemp", "current_imbalance", "sensor_stuck")
console = Console(stderr=True)


def spells(rng: np.random.Generator, n: int, count: int, length: int) -> np.ndarray:
    """A mask with ``count`` random spells of ``length`` consecutive rows."""
    mask = np.zeros(n, bool)
    for start in rng.integers(0, max(n - length, 1), count):
        mask[start : start + length] = True
    return mask


def make_data(rows: int, devices: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    per = rows // devices
    n = per * devices
    codes, ts = arrival_order(*device_phases(rng, devices), per)
    spell = max(n // 200_000, 1)
    c1 = 5.0 + 0.3 * rng.standard_normal(n)
    c2 = 5.0 + 0.3 * rng.standard_normal(n)
    c1[spells(rng, n, spell, 30 * devices)] += 6.0  # overload
    c2[spells(rng, n, spell, 30 * devices)] *= 0.6  # imbalance
    t1 = 60.0 + 0.05 * rng.standard_normal(n)
    t2 = 55.0 + 0.05 * rng.standard_normal(n)
    t1[spells(rng, n, spell, 30 * devices)] += 27.0  # hot
    stuck = spells(rng, n, spell, 80 * devices) & (codes % 7 == 0)
    t2[stuck] = 55.5  # a stuck sensor on some devices
    return pd.DataFrame(
        {
            "device": codes,
            "ts": ts,
            "current_1": c1,
            "current_2": c2,
            "temp_1": t1,
            "temp_2": t2,
            "vib_x": 0.1 * rng.standard_normal(n),
            "vib_y": 0.1 * rng.standard_normal(n),
            "vib_z": 9.8 + 0.1 * rng.standard_normal(n),
        }
    )


def pandas_rules(df: pd.DataFrame, cfg: SafetyConfig) -> pd.DataFrame:
    """State changes of the shared rules, vectorised per device (rows in arrival order)."""
    device = df["device"]
    a1, a2 = df["current_1"].abs(), df["current_2"].abs()
    mean = (a1 + a2) / 2
    ratio = (np.maximum(a1, a2) - np.minimum(a1, a2)) / mean.where(mean != 0)
    flags = {
        "overload": (a1 > cfg.overload_current_a) | (a2 > cfg.overload_current_a),
        "overtemp": (df["temp_1"] >= cfg.max_temperature_c)
        | (df["temp_2"] >= cfg.max_temperature_c),
        "current_imbalance": (mean >= cfg.imbalance_min_current_a)
        & (ratio.fillna(0) > cfg.imbalance_ratio),
    }
    longest = None
    for channel in ("current_1", "current_2", "temp_1", "temp_2", "vib_x", "vib_y", "vib_z"):
        x = df[channel]
        new_run = x != x.groupby(device).shift()
        run_id = new_run.groupby(device).cumsum()
        run = run_id.groupby([device, run_id]).cumcount() + 1
        longest = run if longest is None else np.maximum(longest, run)
    flags["sensor_stuck"] = longest >= cfg.stuck_samples
    events = []
    for kind, flag in flags.items():
        before = flag.groupby(device).shift(fill_value=False)
        changed = flag != before
        events.append(
            pd.DataFrame(
                {
                    "device": device[changed],
                    "ts": df["ts"][changed],
                    "kind": kind,
                    "begin": flag[changed],
                }
            )
        )
    return pd.concat(events, ignore_index=True)


def modax_rules(df: pd.DataFrame, cfg: SafetyConfig, devices: int) -> tuple[np.ndarray, ...]:
    checker = SafetyChecker(cfg)
    for d in range(devices):  # codes = device numbers
        checker.devices.code(str(d))
    nan = np.full(len(df), np.nan)
    chans = (
        df["current_1"].to_numpy(),
        df["current_2"].to_numpy(),
        nan,
        nan,
        df["temp_1"].to_numpy(),
        df["temp_2"].to_numpy(),
        nan,
        nan,
        df["vib_x"].to_numpy(),
        df["vib_y"].to_numpy(),
        df["vib_z"].to_numpy(),
    )
    return checker.check_arrays(df["device"].to_numpy(), df["ts"].to_numpy(), chans)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    cfg = SafetyConfig()

    console.log(f"generating {args.rows:,} readings")
    df = make_data(args.rows, args.devices, args.seed)
    modax_rules(df.head(1000), cfg, args.devices)  # compile outside the timing
    console.log("pandas")
    pandas_time, want = best_of(args.repeat, lambda: pandas_rules(df, cfg))
    console.log("modax kernel")
    our_time, got = best_of(args.repeat, lambda: modax_rules(df, cfg, args.devices))

    codes, ts, kind, begin, _, _ = got
    ours = pd.DataFrame({"device": codes, "ts": ts, "kind": np.array(KINDS)[kind], "begin": begin})
    key = ["device", "ts", "kind", "begin"]
    shared = ours[ours["kind"].isin(SHARED)].sort_values(key).reset_index(drop=True)
    want = want.sort_values(key).reset_index(drop=True)
    identical = len(shared) == len(want) and bool(
        (shared[key].to_numpy() == want[key].to_numpy()).all()
    )
    rows = len(df)
    report = {
        "rows": rows,
        "devices": args.devices,
        "pandas_rows_per_s": round(rows / pandas_time),
        "modax_rows_per_s": round(rows / our_time),
        "ratio_vs_pandas": round(pandas_time / our_time, 2),
        "events_shared_rules": len(want),
        "events_all_rules": len(ours),
        "events_identical": identical,
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
