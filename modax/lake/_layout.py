"""Layout of per-device tables: rows clustered by device and time inside each date partition.

A table with a ``device_id`` column is clustered: each commit's rows are sorted by ``device_id``
then time (the first of :data:`DATE_SOURCES`) and written in row groups of :data:`ROW_GROUP_ROWS`;
a closed date partition is rewritten once into files sorted the same way, whose ``device_id``
ranges do not overlap. A reader asking for one device then opens one file (Delta's per-file
min/max statistics) and one or two of its row groups (Parquet's row-group statistics), whatever
the fleet's size. See ``docs/decisions/0015-clustered-layout.md``.
"""

from __future__ import annotations

import json
import math
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from deltalake import DeltaTable, WriterProperties
from deltalake.transaction import AddAction, RemoveAction

__all__ = [
    "CLUSTER_COLUMN",
    "DATE_SOURCES",
    "ROW_GROUP_ROWS",
    "TARGET_FILE_BYTES",
    "PartitionLayout",
    "bin_pack",
    "cluster_partition",
    "partition_layouts",
    "sort_columns",
    "sorted_rows",
    "writer_properties",
]

#: Columns the ``date`` partition is derived from, in order of preference (first one present).
DATE_SOURCES = ("ts", "window_start", "start_ts", "received_at")
#: The column rows are clustered by (then by time).
CLUSTER_COLUMN = "device_id"
#: Rows per Parquet row group: 7.3 h of one device at 10 Hz; the unit a reader skips or reads. Every
#: query pays a few µs per row group of the files it scans (DuckDB checks each one's statistics, and
#: its planner merges them), which at 65,536 rows outweighed reading one device's rows; see
#: ``docs/decisions/0023-row-groups-and-views-for-cheap-queries.md``.
ROW_GROUP_ROWS = 262_144
#: Size of the files a clustered rewrite or a compaction writes, bytes.
TARGET_FILE_BYTES = 128 * 2**20
#: Memory DuckDB may use to sort a partition before it spills to a temporary folder.
SORT_MEMORY = "1GB"


def sort_columns(names: Sequence[str]) -> list[str] | None:
    """The columns a table with these ``names`` is sorted by, or ``None`` when not clustered."""
    if CLUSTER_COLUMN not in names:
        return None
    time = next((c for c in DATE_SOURCES if c in names), None)
    return [CLUSTER_COLUMN] if time is None else [CLUSTER_COLUMN, time]


def writer_properties() -> WriterProperties:
    """Parquet settings of every modax write: row groups of :data:`ROW_GROUP_ROWS` rows."""
    return WriterProperties(max_row_group_size=ROW_GROUP_ROWS)


def sorted_rows(table: pa.Table) -> pa.Table:
    """``table`` sorted by :func:`sort_columns` (unchanged when it has no ``device_id``)."""
    keys = sort_columns(table.column_names)
    if keys is None:
        return table
    return table.sort_by([(k, "ascending") for k in keys])


@dataclass(frozen=True)
class PartitionLayout:
    """How one date partition of a table is laid out, from the Delta log alone.

    Attributes
    ----------
    date : datetime.date
        The partition (UTC day).
    files, rows, bytes : int
        Data files, rows and bytes on storage.
    clustered : bool
        One file, or files whose ``device_id`` ranges do not overlap (a device's rows are in one
        file, or two neighbours) with at most one smaller than half :data:`TARGET_FILE_BYTES` (as
        a sorted rewrite leaves them): nothing to gain by rewriting it.
    """

    date: date
    files: int
    rows: int
    bytes: int
    clustered: bool


def _disjoint(ranges: list[tuple[Any, Any]]) -> bool:
    """Whether ``(min, max)`` ranges, ordered, only touch at their ends."""
    reach = None
    for low, high in sorted(ranges):
        if reach is not None and low < reach:
            return False
        reach = high if reach is None else max(reach, high)
    return True


def partition_layouts(table: DeltaTable) -> list[PartitionLayout]:
    """Layout of every date partition of the snapshot ``table``, oldest first."""
    actions = pa.table(table.get_add_actions(flatten=True))
    if actions.num_rows == 0 or "partition.date" not in actions.column_names:
        return []
    low = f"min.{CLUSTER_COLUMN}"
    columns = ["partition.date", "num_records", "size_bytes"]
    with_stats = low in actions.column_names
    if with_stats:
        columns += [low, f"max.{CLUSTER_COLUMN}"]
    per_day: dict[date, list[tuple[Any, ...]]] = {}
    for row in zip(*(actions[c].to_pylist() for c in columns), strict=True):
        per_day.setdefault(row[0], []).append(row[1:])
    layouts = []
    for day, files in sorted(per_day.items()):
        ranges = [(f[2], f[3]) for f in files if with_stats and f[2] is not None]
        small = sum(1 for f in files if f[1] < TARGET_FILE_BYTES // 2)
        layouts.append(
            PartitionLayout(
                date=day,
                files=len(files),
                rows=sum(f[0] or 0 for f in files),
                bytes=sum(f[1] for f in files),
                clustered=len(files) == 1 or (small <= 1 and _disjoint(ranges)),
            )
        )
    return layouts


def bin_pack(table: DeltaTable, since: date | None = None) -> dict[str, int]:
    """Merge the small files of ``table`` (of partitions from ``since`` on) into larger ones.

    Rows stay in their order (no sort); files of :data:`TARGET_FILE_BYTES` or more are left.

    Returns
    -------
    dict
        ``files_added``, ``files_removed``.
    """
    days = None if since is None else [("date", ">=", since.isoformat())]
    metrics = table.optimize.compact(
        partition_filters=days, target_size=TARGET_FILE_BYTES, writer_properties=writer_properties()
    )
    return {"files_added": metrics["numFilesAdded"], "files_removed": metrics["numFilesRemoved"]}


def _stat(value: Any) -> Any:
    """A min/max value as the Delta log writes it (JSON), or ``None`` when it has none.

    Timestamps to the millisecond, as Delta writers do (readers widen a maximum by 1 ms).
    """
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, int | float | str):
        return value
    return None


class _Stats:
    """Row count, min, max and null count per column of one data file, for its add action."""

    def __init__(self) -> None:
        self.rows = 0
        self.low: dict[str, Any] = {}
        self.high: dict[str, Any] = {}
        self.nulls: dict[str, int] = {}

    def add(self, group: pa.Table) -> None:
        self.rows += group.num_rows
        for name, column in zip(group.schema.names, group.columns, strict=True):
            self.nulls[name] = self.nulls.get(name, 0) + column.null_count
            if not (pa.types.is_integer(column.type) or pa.types.is_floating(column.type)) and not (
                pa.types.is_string(column.type)
                or pa.types.is_large_string(column.type)
                or pa.types.is_timestamp(column.type)
            ):
                continue
            bounds = pc.min_max(column)
            low, high = _stat(bounds["min"].as_py()), _stat(bounds["max"].as_py())
            if low is not None:
                self.low[name] = low if name not in self.low else min(self.low[name], low)
            if high is not None:
                self.high[name] = high if name not in self.high else max(self.high[name], high)

    def json(self) -> str:
        return json.dumps(
            {
                "numRecords": self.rows,
                "minValues": self.low,
                "maxValues": self.high,
                "nullCount": self.nulls,
            }
        )


def _encodings(schema: pa.Schema) -> dict[str, Any]:
    """Integer and timestamp columns delta-encoded: sorted by device and time, a device's ``ts``
    and ``seq`` grow by a near-constant step, a few bits a value instead of 8 bytes; the rest
    dictionary-encoded as deltalake writes them.
    """
    steps = {f.name for f in schema if pa.types.is_integer(f.type) or pa.types.is_timestamp(f.type)}
    return {
        "use_dictionary": [f.name for f in schema if f.name not in steps],
        "column_encoding": dict.fromkeys(steps, "DELTA_BINARY_PACKED"),
    }


def _row_groups(batches: Iterable[pa.RecordBatch], schema: pa.Schema) -> Iterator[pa.Table]:
    """``batches`` regrouped into tables of :data:`ROW_GROUP_ROWS` rows (the last one fewer).

    DuckDB's Arrow stream yields batches of about the size asked for, not exactly, and a Parquet
    writer makes at least one row group of each write.
    """
    pending = schema.empty_table()
    for batch in batches:
        pending = pa.concat_tables([pending, pa.Table.from_batches([batch], schema)])
        while pending.num_rows >= ROW_GROUP_ROWS:
            yield pending.slice(0, ROW_GROUP_ROWS)
            pending = pending.slice(ROW_GROUP_ROWS)
    if pending.num_rows:
        yield pending


def _write_files(
    store: pafs.FileSystem, day: date, groups: Iterator[pa.Table], schema: pa.Schema
) -> list[AddAction]:
    """Write ``groups``, a row group each, into ``date=day`` files of :data:`TARGET_FILE_BYTES`."""
    folder = f"date={day.isoformat()}"
    store.create_dir(folder, recursive=True)
    adds: list[AddAction] = []
    pending = next(groups, None)
    while pending is not None:
        path = f"{folder}/part-{uuid.uuid4()}-c000.snappy.parquet"
        stats = _Stats()
        with store.open_output_stream(path) as sink:
            with pq.ParquetWriter(
                sink, schema, compression="snappy", **_encodings(schema)
            ) as writer:
                while pending is not None and sink.tell() < TARGET_FILE_BYTES:
                    writer.write_table(pending, row_group_size=ROW_GROUP_ROWS)
                    stats.add(pending)
                    pending = next(groups, None)
            size = sink.tell()
        adds.append(
            AddAction(
                path=path,
                size=size,
                partition_values={"date": day.isoformat()},
                modification_time=int(time.time() * 1000),
                data_change=False,
                stats=stats.json(),
            )
        )
    return adds


def cluster_partition(
    table: DeltaTable,
    dataset: ds.Dataset,
    store: pafs.FileSystem | None,
    day: date,
    keys: Sequence[str],
) -> dict[str, int]:
    """Rewrite partition ``day`` of ``table`` sorted by ``keys``, in one atomic commit.

    DuckDB sorts the partition's rows from ``dataset`` (the snapshot ``table`` is at), spilling to
    a temporary folder beyond :data:`SORT_MEMORY`; the sorted rows are written in order into files
    of :data:`TARGET_FILE_BYTES` through ``store`` (the table's Arrow filesystem), row groups of
    :data:`ROW_GROUP_ROWS`, and one commit replaces the partition's files by them. (deltalake's
    own writer spreads a stream over parallel writers, so its files would overlap.) Without an
    Arrow filesystem (``gs://``, ``az://``) deltalake Z-orders the partition by ``keys[0]``.

    The commit removes exactly the files the rewrite read: rows an ingester appended meanwhile stay
    as they are; a rewrite of the same files committed meanwhile makes this one fail
    (``CommitFailedError``): nothing is lost or doubled, it can run again. Killed before its
    commit, it leaves only files no commit references (no reader sees them; deltalake's ``full``
    vacuum deletes them).

    Returns
    -------
    dict
        ``files_added``, ``files_removed``.
    """
    removed = sum(
        1
        for p in pa.table(table.get_add_actions(flatten=True))["partition.date"].to_pylist()
        if p == day
    )
    if store is None:
        metrics = table.optimize.z_order(
            [keys[0]],
            partition_filters=[("date", "=", day.isoformat())],
            target_size=TARGET_FILE_BYTES,
            writer_properties=writer_properties(),
        )
        return {
            "files_added": metrics["numFilesAdded"],
            "files_removed": metrics["numFilesRemoved"],
        }
    order = ", ".join(keys)
    names = [n for n in dataset.schema.names if n != "date"]
    schema = pa.schema([dataset.schema.field(n) for n in names])
    with tempfile.TemporaryDirectory(prefix="modax-sort-") as spill, duckdb.connect() as con:
        con.execute(f"SET memory_limit = '{SORT_MEMORY}'")
        con.execute(f"SET temp_directory = '{spill}'")
        con.execute("SET TimeZone = 'UTC'")
        con.register("partition_rows", dataset)
        columns = ", ".join(f'"{n}"' for n in names)
        rows = con.sql(
            f"select {columns} from partition_rows where date = $day order by {order}",
            params={"day": day},
        )
        reader = rows.to_arrow_reader(ROW_GROUP_ROWS)
        groups = _row_groups((b.cast(schema) for b in reader), schema)
        adds = _write_files(store, day, groups, schema)
    actions: list[AddAction | RemoveAction] = list(adds)
    table.create_write_transaction(
        actions,
        mode="overwrite",
        schema=table.schema(),
        partition_by=["date"],
        partition_filters=[("date", "=", day.isoformat())],
    )
    return {"files_added": len(adds), "files_removed": removed}
