"""Lake tables as Dask DataFrames, for fleet-wide work on a ``dask.distributed`` cluster.

:func:`read_table` pins the table's current Delta snapshot (or a past ``version``), keeps only the
data files that can hold rows matching ``filters`` — pruned by the ``date`` partition and by the
per-file min/max statistics in the Delta log (so a ``device_id`` filter skips files of other
devices) — and makes one Dask partition per file. Workers read the Parquet files straight from the
lake's storage (local disk or ``s3://``) through Arrow; the DataFrame equals what DuckDB sees in
:func:`modax.connect` for the same snapshot. Needs the ``scale`` extra (``pip install
'modax[scale]'``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeAlias, cast

import dask.dataframe as dd
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from modax.lake._delta import Lake

__all__ = ["Filters", "read_table", "table_fragments"]

#: Row filters: an Arrow expression, or DNF tuples like ``[("device_id", "in", ["m-1"])]``.
Filters: TypeAlias = (
    ds.Expression | Sequence[tuple[str, str, Any]] | Sequence[Sequence[tuple[str, str, Any]]]
)


def _expression(filters: Filters | None) -> ds.Expression | None:
    if filters is None or isinstance(filters, ds.Expression):
        return filters
    return pq.filters_to_expression(list(filters))


def table_fragments(
    name: str,
    lake: Lake | str | Path | None = None,
    *,
    filters: Filters | None = None,
    version: int | None = None,
) -> tuple[ds.Dataset, list[ds.Fragment]]:
    """The snapshot's dataset and the data files that may hold rows matching ``filters``.

    A file is skipped when its ``date`` partition or its min/max column statistics rule the
    filter out; the files kept are read whole and filtered row by row.

    Examples
    --------
    >>> import tempfile, pyarrow as pa
    >>> from datetime import datetime, UTC
    >>> lake = Lake(tempfile.mkdtemp())
    >>> ts = pa.array([datetime(2026, 1, 1, tzinfo=UTC)], pa.timestamp("ms", tz="UTC"))
    >>> for device in ("m-1", "m-2"):
    ...     _ = lake.append("telemetry", pa.table({"ts": ts, "device_id": [device]}))
    >>> _, files = table_fragments("telemetry", lake, filters=[("device_id", "==", "m-2")])
    >>> len(files)
    1
    """
    lake = lake if isinstance(lake, Lake) else Lake(lake)
    dataset = lake.dataset(name, version)
    return dataset, list(dataset.get_fragments(filter=_expression(filters)))


def _read_fragment(
    fragment: ds.Fragment,
    schema: pa.Schema,
    columns: list[str] | None,
    expression: ds.Expression | None,
) -> pd.DataFrame:
    table = fragment.to_table(schema=schema, columns=columns, filter=expression)
    return table.to_pandas()


def _empty_frame(schema: pa.Schema, columns: list[str] | None) -> pd.DataFrame:
    table = schema.empty_table()
    return table.select(columns).to_pandas() if columns is not None else table.to_pandas()


def read_table(
    name: str,
    lake: Lake | str | Path | None = None,
    *,
    columns: list[str] | None = None,
    filters: Filters | None = None,
    version: int | None = None,
) -> dd.DataFrame:
    """Table ``name`` as a lazy Dask DataFrame over one Delta snapshot, one partition per file.

    Parameters
    ----------
    name : str
        Lake table, e.g. ``"telemetry"``.
    lake : Lake, str or Path, optional
        The lake (``MODAX_LAKE`` when ``None``); ``s3://`` roots read the ``AWS_*`` settings.
    columns : list of str, optional
        Columns to read (all when ``None``).
    filters : Filters, optional
        Rows to keep; files that cannot match (by ``date`` partition or min/max statistics, e.g.
        of ``device_id`` or ``ts``) are never read.
    version : int, optional
        Table version to read (time travel); the current one when ``None``.

    Returns
    -------
    dask.dataframe.DataFrame
        Timestamps are tz-aware UTC; an empty selection gives one empty partition.

    Examples
    --------
    >>> import tempfile, pyarrow as pa
    >>> from datetime import datetime, UTC
    >>> lake = Lake(tempfile.mkdtemp())
    >>> ts = pa.array([datetime(2026, 1, 1, tzinfo=UTC)] * 2, pa.timestamp("ms", tz="UTC"))
    >>> _ = lake.append("telemetry", pa.table({"ts": ts, "device_id": ["m-1", "m-2"]}))
    >>> frame = read_table("telemetry", lake, filters=[("device_id", "==", "m-2")])
    >>> frame["device_id"].compute().tolist()
    ['m-2']
    """
    dataset, fragments = table_fragments(name, lake, filters=filters, version=version)
    expression = _expression(filters)
    meta = _empty_frame(dataset.schema, columns)
    if not fragments:
        return cast(dd.DataFrame, dd.from_pandas(meta, npartitions=1))
    frame = dd.from_map(
        _read_fragment,
        fragments,
        schema=dataset.schema,
        columns=columns,
        expression=expression,
        meta=meta,
        label=f"read-lake-{name}",
        enforce_metadata=False,
    )
    return cast(dd.DataFrame, frame)
