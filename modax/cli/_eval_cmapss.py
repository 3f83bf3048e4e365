"""``modax eval cmapss DIR`` — the NASA C-MAPSS remaining-life benchmark.

Trains each model on ``train_FD00x.txt``, predicts the remaining life at the last cycle of every
engine in ``test_FD00x.txt`` and scores it against ``RUL_FD00x.txt``, once per seed; prints mean ±
standard deviation over seeds (never the best seed).
"""

from __future__ import annotations

import json
import time
import warnings
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.progress import Progress
from rich.table import Table
from threadpoolctl import threadpool_limits

from modax.cli._app import console, err_console, eval_app, fail

__all__ = ["eval_cmapss", "run_cmapss"]


class OutputFormat(StrEnum):
    """How results are printed."""

    table = "table"
    json = "json"


def run_cmapss(
    directory: Path,
    subset: str,
    models: list[str],
    *,
    seeds: int = 5,
    cap: float = 125.0,
    progress: Progress | None = None,
) -> dict[str, object]:
    """Run the benchmark and return the result object ``--format json`` prints.

    Parameters
    ----------
    directory : Path
        Folder with the NASA files (``train_FD001.txt``, ``test_FD001.txt``, ``RUL_FD001.txt``).
    subset : str
        ``FD001`` to ``FD004``.
    models : list of str
        Names from :data:`modax.models.wear.MODELS`.
    seeds : int
        Runs per model (seeds ``0 .. seeds - 1``).
    cap : float
        Remaining life is clipped at this many cycles (the usual piecewise-linear target).
    progress : rich.progress.Progress, optional
        Advanced once per run.

    Returns
    -------
    dict
        ``subset``, ``cap``, ``seeds``, ``n_test_units``, ``n_conditions`` (operating conditions
        found), ``models`` (name → mean ``rmse``, ``rmse_unclipped``, ``nasa_score`` over seeds,
        their ``*_std``, ``runtime_s`` per seed, and for quantile models the 80 % interval's
        ``coverage`` and mean ``width``) and ``best`` (lowest mean ``rmse``).

    Examples
    --------
    >>> report = run_cmapss(Path("data/cmapss"), "FD001", ["gbm", "mlp"], seeds=1)  # doctest: +SKIP
    >>> report["best"], round(report["models"]["gbm"]["rmse"], 1)  # doctest: +SKIP
    ('gbm', 15.9)
    """
    from sklearn.exceptions import ConvergenceWarning

    from modax.models.datasets.cmapss import INFORMATIVE_SENSORS, SETTINGS, load_cmapss
    from modax.models.wear import QuantileRULRegressor, evaluate_rul, last_rows, make_model
    from modax.models.wear.evaluate import summarise_runs

    data = load_cmapss(directory, subset)
    last = last_rows(data.test)
    truth = np.minimum(data.rul, cap)
    task = progress.add_task(f"{data.name}", total=len(models) * seeds) if progress else None
    results: dict[str, dict[str, float]] = {}
    n_conditions = 0
    for name in models:
        runs: list[dict[str, float]] = []
        for seed in range(seeds):
            started = time.perf_counter()
            model = make_model(
                name, INFORMATIVE_SENSORS, settings=SETTINGS, cap=cap, random_state=seed
            )
            with warnings.catch_warnings():  # the MLP's early stopping cut at max_iter is fine
                warnings.simplefilter("ignore", ConvergenceWarning)
                model.fit(data.train, data.train["rul"])
            scores = evaluate_rul(model, data.test, data.rul, cap=cap)
            n_conditions = model.normalizer_.n_conditions_
            if isinstance(model, QuantileRULRegressor):
                bounds = model.predict_quantiles(data.test)[last][:, [0, -1]]
                inside = (truth >= bounds[:, 0]) & (truth <= bounds[:, 1])
                scores["coverage"] = float(inside.mean())
                scores["width"] = float((bounds[:, 1] - bounds[:, 0]).mean())
            scores["runtime_s"] = time.perf_counter() - started
            runs.append(scores)
            if progress is not None and task is not None:
                progress.advance(task)
        results[name] = summarise_runs(runs)
    best = min(results, key=lambda n: results[n]["rmse"])
    return {
        "subset": data.name,
        "cap": cap,
        "seeds": seeds,
        "n_test_units": len(data.rul),
        "n_conditions": n_conditions,
        "models": results,
        "best": best,
    }


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
        OutputFormat, typer.Option("--format", help="table, or one JSON object (last line).")
    ] = OutputFormat.table,
) -> None:
    """Train on train_FD00x, predict RUL at each test engine's last cycle, print RMSE and score."""
    from modax.models.datasets.cmapss import CmapssError
    from modax.models.wear import DEFAULT_MODELS, MODELS

    names = list(model or DEFAULT_MODELS)
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        fail(f"--model: unknown {', '.join(unknown)}; choose from {', '.join(MODELS)}", 2)
    try:
        with threadpool_limits(threads), Progress(console=err_console, transient=True) as progress:
            result = run_cmapss(directory, subset, names, seeds=seeds, cap=cap, progress=progress)
    except CmapssError as exc:
        fail(str(exc))
    if output is OutputFormat.json:
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
