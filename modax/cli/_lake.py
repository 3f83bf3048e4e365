"""Lake housekeeping: ``modax compact``, ``modax retention``, ``modax lake check|repair``.

``modax maintain`` (the same housekeeping on a schedule) lives in :mod:`modax.cli._maintain`,
registered from here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from modax.cli import _maintain  # noqa: F401  (registers `modax maintain`)
from modax.cli._app import (
    EXIT_FAILURE,
    LakeOption,
    RetentionOption,
    app,
    console,
    fail,
    settings_from_env,
)

if TYPE_CHECKING:
    from modax.lake import Lake


def _say(line: str) -> None:
    """Print one line, never wrapped (scripts and people grep it)."""
    console.print(line, soft_wrap=True, highlight=False, markup=False)


def _require_tables(store: Lake, names: list[str]) -> None:
    missing = [n for n in names if not store.exists(n)]
    if missing:
        fail(f"no such table: {', '.join(missing)} (tables: {', '.join(store.tables()) or 'none'})")


def _lake(lake: str | None, retention_h: int | None) -> Lake:
    from modax.lake import Lake

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
    """Rewrite small files into larger ones, closed days sorted by device and time; vacuum."""
    store = _lake(lake, vacuum_retention_h)
    names = table or store.tables()
    _require_tables(store, names)
    for name in names:
        m = store.compact(name)
        console.print(
            f"{name}: {m['files_removed']} files → {m['files_added']}, {m['files_deleted']} deleted"
            f", {m['partitions_clustered']} days clustered"
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


lake_app = typer.Typer(help="Check the lake's tables for damaged files, and repair them.")
app.add_typer(lake_app, name="lake")


@lake_app.command("check")
def check_command(
    table: Annotated[list[str] | None, typer.Argument(help="Tables (default: all).")] = None,
    lake: LakeOption = None,
) -> None:
    """List damaged files: garbled or empty commits, data files missing from storage.

    Exit code 0 when every table reads whole, 1 when something is damaged.
    """
    store = _lake(lake, None)
    names = table or store.tables()
    _require_tables(store, names)
    problems = [p for name in names for p in store.check(name)]
    for problem in problems:
        _say(f"{problem} → `modax lake repair {problem.table}` to {problem.action}")
    if problems:
        raise typer.Exit(EXIT_FAILURE)
    _say(f"{len(names)} tables checked, no damage: {', '.join(names) or 'none'}")


@lake_app.command("repair")
def repair_command(
    table: Annotated[str, typer.Argument(help="The table to repair.")],
    lake: LakeOption = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do it without asking.")] = False,
) -> None:
    """Move a damaged last commit aside, or drop data files missing from storage, after asking.

    What it does is printed; a commit moved aside is kept in the table's ``_repair`` folder.
    """
    from modax.lake import Damage

    store = _lake(lake, None)
    _require_tables(store, [table])
    problems = store.check(table)
    if not problems:
        _say(f"table {table!r}: no damage, nothing to do")
        return
    for problem in problems:
        _say(f"{problem} → {problem.action}")
    by_hand = [p for p in problems if p.damage in (Damage.earlier_commit, Damage.unreadable_log)]
    if by_hand:
        fail(f"{by_hand[0]}: cannot be repaired here; {by_hand[0].action}")
    try:
        confirmed = yes or typer.confirm("Do this?", default=False)
    except typer.Abort:
        confirmed = False
    if not confirmed:
        fail("nothing done: answer y, or pass --yes")
    _say(store.repair(problems[0]))  # one last commit, or every missing file at once
    left = store.check(table)
    if left:
        fail(f"{left[0]}: still damaged; run `modax lake repair {table}` again")
    _say(f"table {table!r}: no damage left, at version {store.version(table)}")
