"""``modax eval skab DIR``: the SKAB outlier-detection protocol as a leaderboard."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from modax.cli._app import ReportFormat, console, counted_progress, eval_app, fail
from modax.cli._eval_lofo import print_lofo, run_lofo
from modax.cli._tracking import TrackOption, log_evaluation

if TYPE_CHECKING:
    from modax.models.anomaly import DetectorResult

#: SKAB's ``train_size`` (kept here so ``--help`` does not import scikit-learn).
SKAB_TRAIN_ROWS = 400


def _table(results: dict[str, DetectorResult], title: str) -> Table:
    table = Table(title=f"{title}, pooled (mean ± sd over seeds)")
    for column in ("detector", "F1", "FAR %", "MAR %", "NAB", "delay s", "seeds"):
        table.add_column(column, justify="left" if column == "detector" else "right")
    ranked = sorted(results.values(), key=lambda r: -r.mean("f1"))
    for r in ranked:
        table.add_row(
            r.name,
            f"{r.mean('f1'):.3f} ± {r.std('f1'):.3f}",
            f"{r.mean('far'):.1f} ± {r.std('far'):.1f}",
            f"{r.mean('mar'):.1f} ± {r.std('mar'):.1f}",
            f"{r.mean('nab'):.1f}",
            f"{r.mean('mean_delay_s'):.1f}",
            str(len(r.seeds)),
        )
    return table


@eval_app.command("skab")
def eval_skab_command(
    directory: Annotated[
        Path, typer.Argument(help="Folder with SKAB *.csv files (searched recursively).")
    ],
    detector: Annotated[
        list[str] | None,
        typer.Option(
            "--detector",
            "-d",
            help="Detector to run (repeatable), e.g. level-shift, pca-t2q, iforest; default all.",
        ),
    ] = None,
    seeds: Annotated[int, typer.Option(min=1, help="Seeds for stochastic detectors (0..N-1).")] = 5,
    train_rows: Annotated[
        int, typer.Option(min=10, help="Rows of each file to fit on.")
    ] = SKAB_TRAIN_ROWS,
    output: Annotated[
        ReportFormat, typer.Option("--format", help="table, or json (one JSON object last).")
    ] = ReportFormat.table,
    lofo: Annotated[
        bool,
        typer.Option(
            "--lofo",
            help="Leave-one-file-out: choose the detector's defaults on all files but one by "
            "the selection rule, score the one left out (default detector level-shift).",
        ),
    ] = False,
    far_budget: Annotated[
        float,
        typer.Option(min=0, max=100, help="--lofo: the rule's false alarm budget, % of normal."),
    ] = 10.0,
    track: TrackOption = True,
) -> None:
    """Fit on the first rows of every SKAB file, score the rest, pool, rank detectors by F1.

    With --lofo, judge the rule that chooses a detector's defaults on files it did not see.
    """
    from modax.models.anomaly import DETECTORS
    from modax.models.datasets.skab import SkabError, load_skab

    unknown = [d for d in detector or [] if d not in DETECTORS]
    if unknown:
        fail(f"unknown detector {unknown[0]!r}; known: {', '.join(DETECTORS)}")
    try:
        files = load_skab(directory)
    except SkabError as exc:
        fail(str(exc))
    if not files:
        fail(f"{directory}: no labelled SKAB file (with 'anomaly' and 'changepoint' columns)")
    if lofo:
        if len(detector or []) > 1:
            fail(f"--lofo judges one detector at a time, got {len(detector or [])}")
        report = run_lofo(
            files,
            (detector or ["level-shift"])[0],
            far_budget=far_budget,
            train_rows=train_rows,
            quiet=output is ReportFormat.json,
        )
        if track:
            params = {"files": len(files), "train_rows": train_rows, "far_budget": far_budget}
            log_evaluation("skab-lofo", params, {"lofo": report})
        if output is ReportFormat.json:
            print(json.dumps(_json_safe(report)))
        else:
            print_lofo(report)
        return
    results, best = run_leaderboard(
        files, detector, seeds, quiet=output is ReportFormat.json, train_rows=train_rows
    )
    if track:
        log_evaluation(
            "skab",
            {"files": len(files), "train_rows": train_rows, "seeds": seeds, "best": best},
            {name: r.as_dict() for name, r in results.items()},
            {name: r.runs for name, r in results.items()},
        )
    if output is ReportFormat.json:
        payload = {
            "benchmark": "skab",
            "files": len(files),
            "train_rows": train_rows,
            "best": best,
            "detectors": {name: r.as_dict() for name, r in results.items()},
        }
        print(json.dumps(_json_safe(payload)))
        return
    console.print(_table(results, f"SKAB outlier detection — {len(files)} files"))
    console.print(f"best by F1: [bold]{best}[/]")


def run_leaderboard(
    data: Sequence[Any], detector: list[str] | None, seeds: int, *, quiet: bool, **options: Any
) -> tuple[dict[str, DetectorResult], str]:
    """Evaluate detectors (all when ``detector`` is empty) with a progress bar; return the
    results and the name of the best by mean F1. ``options`` go to ``evaluate_skab``.
    """
    from modax.models.anomaly import DETECTORS, evaluate_skab

    names = list(detector or DETECTORS)
    runs = sum(seeds if DETECTORS[n].stochastic else 1 for n in names)
    with counted_progress(quiet=quiet) as progress:
        task = progress.add_task("evaluating", total=runs)
        try:
            results = evaluate_skab(
                data,
                names,
                seeds=range(seeds),
                progress=lambda name: progress.update(task, advance=1, description=name),
                **options,
            )
        except ValueError as exc:
            fail(str(exc))
    return results, max(results.values(), key=lambda r: r.mean("f1")).name


def _json_safe(value: object) -> object:
    """Replace NaN and infinities (e.g. a NAB score without changepoints) with null."""
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
