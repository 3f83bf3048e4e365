"""``modax compact`` and ``modax retention``: lake housekeeping."""

from __future__ import annotations

from typing import Annotated

import typer

from modax.cli._app import app, console, fail, settings_from_env
from modax.lake import Lake

LakeOption = Annotated[str | None, typer.Option(help="Lake root (default: MODAX_LAKE).")]
RetentionOption = Annotated[
    int | None,
    typer.Option(
        "--vacuum-retention-h",
        min=0,
        help="Keep replaced files this many hours for readers on older snapshots "
        "(default: MODAX_VACUUM_RETENTION_H, 168 = 7 days).",
    ),
]


def _lake(lake: str | None, retention_h: int | None) -> Lake:
    settings = settings_from_env(lake=lake, vacuum_retention_h=retention_h)
    return Lake(settings.lake, vacuum_retention_hours=settings.vacuum_retention_h)


@app.command("compact")
def compact_command(
    table: Annotated[
        list[str] | None, typer.Argument(help="Tables to compact (default: all).")
    ] = None,
    lake: LakeOption = None,
    vacuum_retention_h: RetentionOption = None,
) -> None:
    """Rewrite each table's small files into larger ones (same rows), then vacuum old files."""
    store = _lake(lake, vacuum_retention_h)
    names = table or store.tables()
    missing = [n for n in names if not store.exists(n)]
    if missing:
        fail(f"no such table: {', '.join(missing)} (tables: {', '.join(store.tables()) or 'none'})")
    for name in names:
        m = store.compact(name)
        console.print(
            f"{name}: {m['files_removed']} files → {m['files_added']}, {m['files_deleted']} deleted"
        )


@app.command("retention")
def retention_command(
    days: Annotated[int, typer.Option(min=0, help="Keep this many days before today (UTC).")],
    lake: LakeOption = None,
    vacuum_retention_h: RetentionOption = None,
) -> None:
    """Delete rows older than DAYS days from every table (by the UTC date partition)."""
    store = _lake(lake, vacuum_retention_h)
    for name, rows in store.retain(days).items():
        console.print(f"{name}: {rows} rows deleted")
