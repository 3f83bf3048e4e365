"""``--track/--no-track`` of ``modax eval …``: each evaluation logged as one MLflow run."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Annotated, Any

import typer

from modax.cli._app import err_console, settings_from_env

__all__ = ["TrackOption", "log_evaluation"]

#: ``--track/--no-track``, shared by the eval commands.
TrackOption = Annotated[
    bool,
    typer.Option(
        help="Log this evaluation as one MLflow run in the lake's store (MODAX_LAKE; "
        "MLFLOW_TRACKING_URI overrides)."
    ),
]


def log_evaluation(
    benchmark: str,
    params: Mapping[str, Any],
    leaderboard: Mapping[str, Mapping[str, Any]],
    runs: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
) -> str:
    """Log run ``eval <benchmark>``: ``params``, each entry's figures as ``<entry>.<figure>``
    (mean), ``runs`` per seed or file as steps, the leaderboard as ``leaderboard.json``.

    Returns the run id; a note on stderr says where it went.
    """
    from modax.registry import Registry

    registry = Registry(settings_from_env().lake)
    metrics = {
        f"{entry}.{key}": value
        for entry, figures in leaderboard.items()
        for key, value in figures.items()
        if isinstance(value, int | float) and not isinstance(value, bool)
    }
    series = {
        f"{entry}.{key}.per_run": [float(run[key]) for run in entry_runs]
        for entry, entry_runs in (runs or {}).items()
        for key in (entry_runs[0] if entry_runs else {})
        if isinstance(entry_runs[0][key], int | float)
    }
    run_id = registry.log_run(
        f"modax-eval-{benchmark}",
        run_name=f"eval {benchmark}",
        params=params,
        metrics=metrics,
        series=series,
        artifacts={"leaderboard.json": json.dumps(leaderboard, indent=2, default=str)},
    )
    err_console.print(f"logged as MLflow run {run_id} in {registry.tracking_uri}", highlight=False)
    return run_id
