"""``modax compact`` and ``modax retention``: lake housekeeping."""

from __future__ import annotations

from typing import Annotated

import typer

from modax.cli._app import app, console, fail, settings_from_env


@app.command("compact")
def compact_command(
    table: Annotated[
        list[str] | None, typer.Argument(help="Tables to compact (default: all).")
    ] = None,
    lake: Annotated[str | None, typer.Option(help="Lake root (default: MODAX_LAKE).")] = None,
) -> None:
    """Rewrite each table's small files into larger ones (same rows) and delete the old files."""
    from modax.lake import Lake

    store = Lake(settings_from_env(lake=lake).lake)
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
    lake: Annotated[str | None, typer.Option(help="Lake root (default: MODAX_LAKE).")] = None,
) -> None:
    """Delete rows older than DAYS days from every table (by the UTC date partition)."""
    from modax.lake import Lake

    store = Lake(settings_from_env(lake=lake).lake)
    for name, rows in store.retain(days).items():
        console.print(f"{name}: {rows} rows deleted")
