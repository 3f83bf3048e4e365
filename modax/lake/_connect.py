"""``modax.connect()``: DuckDB over the lake, one view per Delta table, no copy.

Each table is a view over its current Delta snapshot's data files. On a local lake the view is
DuckDB's own Parquet reader over exactly those files (``read_parquet([...])``, the ``date`` column
from the partition folders, footers cached): it skips row groups by their statistics and scans in
parallel as fast as over any Parquet file. Files are matched by column name (``union_by_name``, a
column a file lacks reads as NULL) only when their columns differ, since that costs every query
(decision 23). On an object store the view is the snapshot's Arrow
dataset (no DuckDB extension to download), which also skips whole files by the Delta log's
statistics. Either way DuckDB scans the files in place with filter and projection pushdown, and,
the rows being clustered by device and time (:mod:`modax.lake._layout`), a query for one device
reads that device's row groups, not the fleet's. Any number of readers can query while an
ingester writes: a snapshot is fixed until :meth:`LakeConnection.refresh` picks up new commits.

Compaction and retention keep the files they replace for ``MODAX_VACUUM_RETENTION_H`` hours (7 days
by default), so a held snapshot keeps working that long. When a file of it has gone all the same
(an older snapshot, or a shorter window), a query through :meth:`LakeConnection.sql` or
:meth:`LakeConnection.execute` refreshes the connection and runs again, once.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from functools import partial
from itertools import chain
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar

import duckdb

from modax.config import is_uri
from modax.lake._delta import Lake, LakeError

__all__ = ["LakeConnection", "LakeResult", "connect"]

T = TypeVar("T")

# DuckDB's messages when the files behind a view cannot be opened: through an Arrow dataset, and
# through its own Parquet reader.
_VANISHED = re.compile(
    r"registered as '(?P<table>[^']+)' failed: .*'(?P<file>[^']+)'\. Detail: \[errno 2\]"
    r"|No files found that match the pattern \"(?P<path>[^\"]+)\""
    r"|Cannot open file \"(?P<opened>[^\"]+)\": No such file",
    re.S,
)


_CALL = compile("__modax_call__(*__modax_args__)", "<modax.lake.connect>", "eval")


def _as_if_from(frame: FrameType, method: Callable[..., Any], *args: Any) -> Callable[[], Any]:
    """``method(*args)``, called as if from ``frame``.

    DuckDB's replacement scans read the Python variables a query names (a DataFrame, an Arrow
    table, a relation) from the frame that calls ``sql``/``execute`` only; a wrapper would hide the
    user's. A :class:`LakeResult` among them is shown to DuckDB as the relation it wraps.
    """
    variables = chain(frame.f_globals.items(), frame.f_locals.items())
    scope = {
        **{k: v._target for k, v in variables if isinstance(v, LakeResult)},
        **{k: v for k, v in frame.f_locals.items() if not isinstance(v, LakeResult)},
        "__modax_call__": method,
        "__modax_args__": args,
    }
    return lambda: eval(_CALL, frame.f_globals, scope)


def _literal(text: str) -> str:
    """``text`` as a SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


class LakeResult:
    """A DuckDB relation (from ``sql``) or result (from ``execute``) that survives a vacuum.

    Everything the DuckDB object offers is available on it (``fetchall``, ``df``, ``arrow``,
    ``filter``, ...). If running it fails because a file of the connection's snapshot has been
    vacuumed meanwhile, the connection is refreshed and the statement runs again on the new
    snapshot, once.
    """

    __slots__ = ("_build", "_con", "_target")

    def __init__(self, con: LakeConnection, build: Callable[[], Any], target: Any = None) -> None:
        self._con = con
        self._build = build
        self._target = target if target is not None else con._retried(build)

    def _rebuild(self) -> None:
        self._target = self._build()

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        result = self._con._retried(
            lambda: getattr(self._target, method)(*args, **kwargs), self._rebuild
        )
        if not isinstance(result, duckdb.DuckDBPyRelation):
            return result
        parent = self._build
        return LakeResult(
            self._con, lambda: getattr(parent(), method)(*args, **kwargs), target=result
        )

    def __getattr__(self, attr: str) -> Any:
        value = getattr(self._target, attr)
        if not callable(value):
            return value
        return lambda *args, **kwargs: self._call(attr, *args, **kwargs)

    def __repr__(self) -> str:
        return str(self._call("__repr__"))

    def __str__(self) -> str:
        return str(self._call("__str__"))

    def __len__(self) -> int:
        return int(self._call("__len__"))

    def __getitem__(self, key: str) -> Any:
        return self._call("__getitem__", key)

    def __arrow_c_stream__(self, requested_schema: object = None) -> object:
        return self._call("__arrow_c_stream__", requested_schema)


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
        self.duckdb.execute("SET parquet_metadata_cache = true")
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
            self.duckdb.execute(f'drop view if exists "{name}"')
            self.duckdb.unregister(name)
        self.tables = self.lake.tables()
        for name in self.tables:
            dataset = self.lake.dataset(name)
            if is_uri(self.lake.root) or not dataset.files:
                self.duckdb.register(name, dataset)
                continue
            folder = self.lake.table_uri(name)
            paths = [f"{folder}/{f}" for f in dataset.files]
            files = ", ".join(_literal(p) for p in paths)
            hive = all("date=" in f for f in dataset.files)
            try:
                union = str(not self._one_schema(paths)).lower()
                self.duckdb.execute(
                    f'create view "{name}" as select * from read_parquet([{files}], '
                    f"hive_partitioning = {str(hive).lower()}, union_by_name = {union})"
                )
            except duckdb.IOException as exc:
                missing = _VANISHED.search(str(exc))
                if missing is None:
                    raise
                raise self._damaged(missing) from None
        return list(self.tables)

    def _one_schema(self, paths: list[str]) -> bool:
        """Whether the Parquet files ``paths`` all have the same columns (names and types).

        Read from their footers once per snapshot (DuckDB caches them). Only files of different
        columns (a table whose schema evolved) need ``union_by_name``, which costs every query:
        DuckDB then binds each file's schema and merges every row group's statistics at planning.
        """
        [(schemas,)] = self.duckdb.sql(
            "select count(distinct columns) from (select list((name, type, logical_type::varchar) "
            "order by name, type) as columns from parquet_schema($paths) group by file_name)",
            params={"paths": paths},
        ).fetchall()
        return bool(schemas <= 1)

    def _damaged(self, missing: re.Match[str]) -> LakeError:
        """The error for a data file of the newest snapshot missing from storage."""
        file = missing["file"] or missing["path"] or missing["opened"]
        table = missing["table"] or self._table_of(file)
        return LakeError(
            f"table {table!r}: data file {file} of its newest snapshot is missing from "
            f"storage; run `modax lake check` to list the damage and `modax lake repair "
            f"{table}` to drop the missing files from the table"
        )

    def _table_of(self, file: str) -> str:
        """The table a data file (absolute path or relative to its table) belongs to."""
        relative = file.removeprefix(f"{self.lake.root}/")
        return relative.split("/", 1)[0] if relative != file else "?"

    def sql(self, query: str, alias: str = "", params: object = None) -> LakeResult:
        """``duckdb.sql`` over the views, refreshed and run again once if a file vanished."""
        caller = sys._getframe(1)
        method = partial(self.duckdb.sql, alias=alias, params=params)
        return LakeResult(self, _as_if_from(caller, method, query))

    def execute(self, query: str, parameters: object = None) -> LakeResult:
        """``duckdb.execute`` over the views, refreshed and run again once if a file vanished."""
        caller = sys._getframe(1)
        return LakeResult(self, _as_if_from(caller, self.duckdb.execute, query, parameters))

    def _retried(self, action: Callable[[], T], rebuild: Callable[[], None] | None = None) -> T:
        """Run ``action``; if a snapshot file has gone, refresh, ``rebuild`` and run it again.

        Raises
        ------
        LakeError
            When a file of the newest snapshot is missing too: the lake is damaged.
        """
        try:
            return action()
        except duckdb.Error as exc:
            if _VANISHED.search(str(exc)) is None:
                raise
        self.refresh()
        if rebuild is not None:
            rebuild()
        try:
            return action()
        except duckdb.Error as exc:
            missing = _VANISHED.search(str(exc))
            if missing is None:
                raise
            raise self._damaged(missing) from None

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
