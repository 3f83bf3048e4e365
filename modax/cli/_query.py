"""``modax query`` and ``modax export``: SQL over the lake."""

from __future__ import annotations

import json
import math
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from modax.cli._app import ReportFormat, app, console, fail, settings_from_env


def _cell(value: object) -> str:
    """A value as table text; nulls (None, NaN, NA) are blank."""
    import pandas as pd

    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value)


class QueryFormat(StrEnum):
    """How query results are printed."""

    table = "table"
    csv = "csv"
    json = "json"


@app.command("query")
def query_command(
    sql: Annotated[
        str,
        typer.Argument(help="SQL over the lake's tables, e.g. 'select * from telemetry limit 5'."),
    ],
    lake: Annotated[str | None, typer.Option(help="Lake root (default: MODAX_LAKE).")] = None,
    output: Annotated[
        QueryFormat, typer.Option("--format", help="Output format.")
    ] = QueryFormat.table,
) -> None:
    """Run SQL with DuckDB over the lake (a view per table) and print the result."""
    import duckdb

    from modax.lake import connect

    settings = settings_from_env(lake=lake)
    con = connect(settings.lake)
    try:
        frame = con.sql(sql).df()
    except duckdb.Error as exc:
        fail(
            f"query failed: {str(exc).splitlines()[0]} (tables: {', '.join(con.tables) or 'none'})"
        )
    if output is QueryFormat.csv:
        print(frame.to_csv(index=False), end="")
    elif output is QueryFormat.json:
        print(frame.to_json(orient="records", date_format="iso", date_unit="ms"))
    else:
        table = Table(show_lines=False)
        for column in frame.columns:
            table.add_column(str(column))
        for row in frame.itertuples(index=False):
            table.add_row(*(_cell(v) for v in row))
        console.print(table)


@app.command("export")
def export_command(
    duckdb_file: Annotated[Path, typer.Option("--duckdb", help="DuckDB database file to write.")],
    lake: Annotated[str | None, typer.Option(help="Lake root (default: MODAX_LAKE).")] = None,
    output: Annotated[
        ReportFormat, typer.Option("--format", help="table, or one JSON object.")
    ] = ReportFormat.table,
) -> None:
    """Write every lake table into a self-contained DuckDB database file."""
    from modax.lake import export_duckdb

    settings = settings_from_env(lake=lake)
    if duckdb_file.exists():
        fail(f"{duckdb_file} exists already: remove it or choose another name")
    counts = export_duckdb(settings.lake, duckdb_file)
    if output is ReportFormat.json:
        print(json.dumps({"file": str(duckdb_file), "rows": counts}))
        return
    for name, rows in counts.items():
        console.print(f"{name}: {rows} rows")
    console.print(f"wrote {duckdb_file}")
