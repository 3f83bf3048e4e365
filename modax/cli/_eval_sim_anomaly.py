"""``modax eval sim --scenario NAME``: benchmark models on simulated fleets with ground truth.

Scenarios with fault labels (e.g. ``mixed-faults``) run the anomaly detectors under the SKAB
protocol on 1 Hz per-device series. ``run-to-failure`` is the remaining-life benchmark: it is
handed to the wear models through the hook ``modax.models.wear.evaluate.evaluate_sim_rul(result,
seeds) -> dict`` (a JSON-ready report with ``models`` and ``best``) once that function exists.
"""

from __future__ import annotations

import importlib
import json
from typing import Annotated

import typer

from modax.cli._app import ReportFormat, console, eval_app, fail
from modax.cli._eval_skab import _json_safe, _table, run_leaderboard
from modax.cli._tracking import TrackOption, log_evaluation

RUL_SCENARIOS = ("run-to-failure",)


def _rul_report(result: object, seeds: int) -> dict[str, object]:
    """The wear models' report on a run-to-failure simulation, through their hook."""
    module = importlib.import_module("modax.models.wear.evaluate")
    hook = getattr(module, "evaluate_sim_rul", None)
    if hook is None:
        fail(
            "remaining-life evaluation on simulator data is not available yet "
            "(modax.models.wear.evaluate.evaluate_sim_rul is missing); use `modax eval cmapss`"
        )
    return hook(result, seeds=range(seeds))


@eval_app.command("sim")
def eval_sim_command(
    scenario: Annotated[str, typer.Option(help="Simulator scenario, e.g. mixed-faults.")] = (
        "mixed-faults"
    ),
    *,
    devices: Annotated[int, typer.Option(min=1, help="Simulated devices.")] = 8,
    duration: Annotated[float, typer.Option(min=60, help="Simulated seconds per device.")] = 3600,
    seed: Annotated[int, typer.Option(help="Seed of the simulated fleet.")] = 1,
    train_s: Annotated[
        int, typer.Option(min=60, help="Leading seconds of each device to fit on (normal ones).")
    ] = 900,
    detector: Annotated[
        list[str] | None, typer.Option("--detector", "-d", help="Detector (repeatable).")
    ] = None,
    seeds: Annotated[int, typer.Option(min=1, help="Seeds for stochastic models.")] = 3,
    output: Annotated[
        ReportFormat, typer.Option("--format", help="table, or json (one JSON object last).")
    ] = ReportFormat.table,
    track: TrackOption = True,
) -> None:
    """Simulate a fleet, then score detectors (or wear models) against its ground truth."""
    import simulator
    from modax.models.anomaly import DETECTORS, SIM_PARAMS, device_series

    if scenario not in simulator.list_scenarios():
        fail(f"unknown scenario {scenario!r}; known: {', '.join(simulator.list_scenarios())}")
    unknown = [d for d in detector or [] if d not in DETECTORS]
    if unknown:
        fail(f"unknown detector {unknown[0]!r}; known: {', '.join(DETECTORS)}")
    quiet = output is ReportFormat.json
    if not quiet:
        console.print(
            f"simulating {devices} device(s) × {duration:g} s of {scenario} (seed {seed})"
        )
    result = simulator.Fleet(n_devices=devices, seed=seed, scenario=scenario).run(duration)
    params = {"scenario": scenario, "devices": devices, "duration_s": duration, "seed": seed}
    if scenario in RUL_SCENARIOS:
        report = _rul_report(result, seeds)
        if track:
            log_evaluation("sim", params, {"remaining-life": report})
        if quiet:
            print(json.dumps(_json_safe(report)))
        else:
            console.print_json(data=_json_safe(report))
        return
    labels = result.labels()
    series = device_series(result.telemetry, labels["anomaly"], labels["fault"])
    results, best = run_leaderboard(
        series, detector, seeds, quiet=quiet, train_rows=train_s, params=SIM_PARAMS
    )
    if track:
        log_evaluation(
            "sim",
            {**params, "train_s": train_s, "best": best},
            {name: r.as_dict() for name, r in results.items()},
            {name: r.runs for name, r in results.items()},
        )
    if quiet:
        payload = {
            "benchmark": "sim",
            "scenario": scenario,
            "devices": devices,
            "duration_s": duration,
            "seed": seed,
            "train_s": train_s,
            "best": best,
            "detectors": {name: r.as_dict() for name, r in results.items()},
        }
        print(json.dumps(_json_safe(payload)))
        return
    console.print(_table(results, f"{scenario} — {len(series)} simulated devices"))
    recalls = {
        k.removeprefix("recall_"): v
        for k, v in results[best].as_dict().items()
        if k.startswith("recall_") and not k.endswith("_std")
    }
    console.print(f"best by F1: [bold]{best}[/]; events it caught, by fault:")
    console.print(", ".join(f"{kind} {share:.0%}" for kind, share in recalls.items()) or "none")
