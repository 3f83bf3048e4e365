"""``modax eval cmapss DIR`` — the NASA C-MAPSS remaining-life benchmark.

The protocol is :func:`modax.models.wear.cmapss.run_cmapss`; this prints mean ± standard
deviation over seeds (never the best seed) as a table or one JSON object.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress
from rich.table import Table

from modax.cli._app import ReportFormat, console, err_console, eval_app, fail
from modax.cli._tracking import TrackOption, log_evaluation

__all__ = ["eval_cmapss"]


@eval_app.command("cmapss")
def eval_cmapss(
    directory: Annotated[Path, typer.Argument(help="Folder with train_/test_/RUL_FD00x.txt.")],
    *,
    subset: Annotated[str, typer.Option(help="FD001, FD002, FD003 or FD004.")] = "FD001",
    model: Annotated[
        list[str] | None,
        typer.Option("--model", "-m", help="Model name (repeat for several); default: all."),
    ] = None,
    seeds: Annotated[int, typer.Option(min=1, help="Training seeds; figures are mean ± std.")] = 5,
    cap: Annotated[float, typer.Option(min=1, help="Cap of the RUL target (cycles).")] = 125.0,
    threads: Annotated[
        int | None,
        typer.Option(min=1, help="CPU threads for training (default: all cores)."),
    ] = None,
    output: Annotated[
        ReportFormat, typer.Option("--format", help="table, or one JSON object (last line).")
    ] = ReportFormat.table,
    track: TrackOption = True,
) -> None:
    """Train on train_FD00x, predict RUL at each test engine's last cycle, print RMSE and score."""
    from threadpoolctl import threadpool_limits

    from modax.models.datasets.cmapss import CmapssError
    from modax.models.wear import DEFAULT_MODELS, MODELS
    from modax.models.wear.cmapss import run_cmapss

    names = list(model or DEFAULT_MODELS)
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        fail(f"--model: unknown {', '.join(unknown)}; choose from {', '.join(MODELS)}", 2)
    try:
        with threadpool_limits(threads), Progress(console=err_console, transient=True) as progress:
            task = progress.add_task(f"C-MAPSS {subset}", total=len(names) * seeds)
            result = run_cmapss(
                directory,
                subset,
                names,
                seeds=seeds,
                cap=cap,
                on_run=lambda: progress.advance(task),
            )
    except CmapssError as exc:
        fail(str(exc))
    if track:
        params = {"subset": subset, "seeds": seeds, "cap": cap, "best": result["best"]}
        log_evaluation("cmapss", params, result["models"])
    if output is ReportFormat.json:
        console.out(json.dumps(result))
        return
    table = Table(title=f"C-MAPSS {result['subset']} — cap {cap:g}, mean ± std over {seeds} seeds")
    columns = ("model", "rmse", "rmse_unclipped", "nasa_score", "80 % interval", "runtime (s)")
    for column in columns:
        table.add_column(column, justify="left" if column == "model" else "right")
    for name, scores in result["models"].items():
        interval = (
            f"{scores['coverage']:.0%} in, ±{scores['width'] / 2:.0f}"
            if "coverage" in scores
            else ""
        )
        table.add_row(
            name + (" ★" if name == result["best"] else ""),
            *(f"{scores[k]:.2f} ± {scores[k + '_std']:.2f}" for k in ("rmse", "rmse_unclipped")),
            f"{scores['nasa_score']:.0f} ± {scores['nasa_score_std']:.0f}",
            interval,
            f"{scores['runtime_s']:.1f}",
        )
    console.print(table)
