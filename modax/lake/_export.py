"""Export the lake into a self-contained DuckDB database file."""

from __future__ import annotations

from pathlib import Path

import duckdb

from modax.lake._delta import Lake

__all__ = ["export_duckdb"]


def export_duckdb(lake: Lake | str | Path | None, path: str | Path) -> dict[str, int]:
    """Copy every table of the lake's current snapshot into DuckDB file ``path``.

    Returns
    -------
    dict
        Rows written per table.
    """
    lake = lake if isinstance(lake, Lake) else Lake(lake)
    counts = {}
    with duckdb.connect(str(path)) as con:
        for name in lake.tables():
            con.register("_source", lake.dataset(name))
            con.execute(f'CREATE TABLE "{name}" AS SELECT * FROM _source')
            con.unregister("_source")
            counts[name] = con.sql(f'SELECT count(*) FROM "{name}"').fetchall()[0][0]
    return counts
