"""``modax replay FILE``: the batch path without a broker."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from modax.cli._app import ReportFormat, app, console, counted_progress, fail, settings_from_env

if TYPE_CHECKING:
    from modax.pipeline import BatchResult


def _summary(result: BatchResult) -> dict[str, object]:
    return {
        "received": result.received,
        "accepted": result.accepted,
        "duplicates_skipped": result.duplicates,
        "quarantined": sum(result.quarantined.values()),
        "quarantined_by_reason": dict(sorted(result.quarantined.items())),
        "rows_written": dict(sorted(result.rows.items())),
    }


@app.command("replay")
def replay_command(
    file: Annotated[
        Path, typer.Argument(help="JSON lines {topic, payload} or mosquitto_sub -v output.")
    ],
    lake: Annotated[str | None, typer.Option(help="Lake root (default: MODAX_LAKE).")] = None,
    batch_size: Annotated[int, typer.Option(min=1, help="Messages per lake commit.")] = 50_000,
    output: Annotated[
        ReportFormat, typer.Option("--format", help="Summary format.")
    ] = ReportFormat.table,
) -> None:
    """Replay a recorded message file through decode → validate → lake, like live ingestion."""
    from modax.cli._pipeline import build_pipeline
    from modax.lake import Lake
    from modax.pipeline import replay_file

    settings = settings_from_env(lake=lake)
    if not file.is_file():
        fail(f"cannot read {file}: no such file")
    try:
        total_lines = sum(1 for _ in file.open("rb"))
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror or exc}")
    store = Lake(settings.lake)
    pipeline = build_pipeline(store)
    with counted_progress(quiet=output is ReportFormat.json) as progress:
        task = progress.add_task("replaying", total=total_lines)
        try:
            result = replay_file(file, pipeline, batch_size, lambda n: progress.advance(task, n))
        except OSError as exc:
            damage = store.check()  # a lake file the pipeline read, or the input file?
            fail(damage[0].message() if damage else f"cannot read {file}: {exc.strerror or exc}")
    summary = _summary(result)
    if output is ReportFormat.json:
        print(json.dumps(summary))
        return
    table = Table(title=f"replayed {file.name} into {settings.lake}")
    table.add_column("what")
    table.add_column("messages", justify="right")
    for key in ("received", "accepted", "duplicates_skipped", "quarantined"):
        table.add_row(key.replace("_", " "), str(summary[key]))
    for reason, count in result.quarantined.most_common():
        table.add_row(f"  quarantined: {reason}", str(count))
    console.print(table)
