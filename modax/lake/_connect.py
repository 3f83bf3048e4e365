"""``modax.connect()``: DuckDB over the lake, one view per Delta table, no copy.

Each table is registered as an Arrow dataset over its current Delta snapshot; DuckDB scans the
Parquet files in place with filter and projection pushdown. Any number of readers can query while
an ingester writes: a snapshot is fixed until :meth:`LakeConnection.refresh` picks up new commits.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

from modax.lake._delta import Lake

__all__ = ["LakeConnection", "connect"]


class LakeConnection:
    """A DuckDB connection with a view per lake table.

    Everything a ``duckdb.DuckDBPyConnection`` offers is available on it (``sql``, ``execute``,
    ...); use ``con.sql(q).fetchall()``, ``.df()`` or ``.arrow()`` to fetch.

    Examples
    --------
    >>> import tempfile
    >>> con = connect(tempfile.mkdtemp())
    >>> con.tables
    []
    >>> con.sql("select 42").fetchall()
    [(42,)]
    """

    def __init__(self, lake: Lake, con: duckdb.DuckDBPyConnection | None = None) -> None:
        self.lake = lake
        self.duckdb = con if con is not None else duckdb.connect()
        self.duckdb.execute("SET TimeZone = 'UTC'")
        self.tables: list[str] = []
        self.refresh()

    def refresh(self) -> list[str]:
        """Point every view at its table's newest snapshot (and add new tables).

        Returns
        -------
        list of str
            The table names now visible.
        """
        for name in self.tables:
            self.duckdb.unregister(name)
        self.tables = self.lake.tables()
        for name in self.tables:
            self.duckdb.register(name, self.lake.dataset(name))
        return list(self.tables)

    def __getattr__(self, attr: str) -> Any:
        return getattr(self.duckdb, attr)

    def close(self) -> None:
        """Close the DuckDB connection."""
        self.duckdb.close()

    def __enter__(self) -> LakeConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def connect(lake: Lake | str | Path | None = None) -> LakeConnection:
    """Open DuckDB over the lake (``MODAX_LAKE`` when ``lake`` is ``None``).

    Examples
    --------
    >>> import tempfile
    >>> connect(tempfile.mkdtemp()).sql("select 1 + 1").fetchall()
    [(2,)]
    """
    return LakeConnection(lake if isinstance(lake, Lake) else Lake(lake))
