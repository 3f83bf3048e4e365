"""``modax eval skab DIR --lofo``: the defaults' selection rule, judged leave-one-file-out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rich.table import Table

from modax.cli._app import console, counted_progress, fail

if TYPE_CHECKING:
    from modax.models.datasets.skab import SkabFile


def run_lofo(
    files: Sequence[SkabFile], detector: str, *, far_budget: float, train_rows: int, quiet: bool
) -> dict[str, Any]:
    """Leave-one-file-out of ``detector``'s selection rule with a progress bar, as a JSON-ready
    report: the result's folds, pooled and mean held-out figures, the rule's choice on every
    file (``defaults``) and whether the detector's current defaults are that choice.
    """
    from modax.models.anomaly import (
        SELECTION_GRIDS,
        SKAB_PARAMS,
        grid_points,
        leave_one_file_out,
        make_detector,
    )

    if detector not in SELECTION_GRIDS:
        fail(
            f"no selection grid for detector {detector!r}; --lofo runs for "
            f"{', '.join(SELECTION_GRIDS)}"
        )
    grid = SELECTION_GRIDS[detector]
    with counted_progress(quiet=quiet) as progress:
        task = progress.add_task(
            f"{detector}: grid × {len(files)} files", total=len(grid_points(grid))
        )
        try:
            result = leave_one_file_out(
                detector,
                files,
                far_budget=far_budget,
                train_rows=train_rows,
                params=SKAB_PARAMS.get(detector, {}),
                progress=lambda: progress.update(task, advance=1),
            )
        except ValueError as exc:
            fail(str(exc))
    current = make_detector(detector).get_params()
    report = {"benchmark": "skab-lofo", "files": len(files), "train_rows": train_rows}
    report.update(result.as_dict())
    report["current_defaults"] = {
        "params": {name: _plain(current[name]) for name in grid},
        "match": all(current[name] == result.defaults.params[name] for name in grid),
    }
    return report


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _values(params: dict[str, Any]) -> str:
    return " ".join("+".join(v) if isinstance(v, list | tuple) else str(v) for v in params.values())


def _params(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={_values({k: v})}" for k, v in params.items())


def print_lofo(report: dict[str, Any]) -> None:
    """The report as a table, one row per held-out file, pooled and mean rows; the defaults."""
    result_name = report["detector"]
    table = Table(
        title=f"SKAB leave-one-file-out — {result_name}, {report['grid_size']} configurations, "
        f"FAR budget {report['far_budget']:g} %"
    )
    chosen = f"chosen on the others: {' '.join(report['grid'])}"
    for column in ("held-out file", chosen, "F1", "FAR %", "MAR %", "NAB"):
        table.add_column(column, justify="left" if column in ("held-out file", chosen) else "right")
    for fold in report["folds"]:
        figures = fold["held_out_figures"]
        table.add_row(
            fold["held_out"],
            _values(fold["selection"]["params"]),
            f"{figures['f1']:.3f}",
            f"{figures['far']:.1f}",
            f"{figures['mar']:.1f}",
            f"{figures['nab']:.1f}",
        )
    pooled, mean = report["pooled"], report["mean"]
    table.add_row(
        "pooled (LOFO)", "", f"{pooled['f1']:.3f}", f"{pooled['far']:.1f}", f"{pooled['mar']:.1f}"
    )
    table.add_row(
        "mean of files (LOFO)",
        "",
        f"{mean['f1']:.3f}",
        f"{mean['far']:.1f}",
        f"{mean['mar']:.1f}",
        f"{mean['nab']:.1f}",
    )
    console.print(table)
    defaults = report["defaults"]
    console.print(
        f"rule on all {report['files']} files (the defaults): [bold]{_params(defaults['params'])}"
        f"[/] — in-sample F1 {defaults['f1']:.3f}, FAR {defaults['far']:.1f} %, "
        f"MAR {defaults['mar']:.1f} % (optimistic: chosen on these files)"
    )
    current = report["current_defaults"]
    verdict = "are" if current["match"] else "are NOT"
    console.print(f"{result_name}'s current defaults {verdict} the rule's choice")
