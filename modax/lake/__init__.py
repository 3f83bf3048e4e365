"""The lake: Delta tables under one root, and DuckDB over them.

:class:`Lake` writes and reads the tables (atomic appends, partitioned by UTC date; a local path or
an object-store URI), :func:`connect` gives a DuckDB connection with a view per table,
:func:`export_duckdb` writes a self-contained DuckDB file, :class:`Maintenance` compacts, vacuums
and rolls up on a schedule (rows clustered by device and time, see :meth:`Lake.layout`), and
:mod:`modax.lake.dask` reads tables as Dask DataFrames (the ``scale`` extra). :meth:`Lake.check`
lists damaged files (a garbled or empty commit, a data file gone from storage) as :class:`Problem`;
every operation refuses a damaged table with a :class:`CorruptTableError` naming the table, the
file and the repair.
"""

from modax.lake._connect import LakeConnection, LakeResult, connect
from modax.lake._delta import DATE_SOURCES, CorruptTableError, Lake, LakeError
from modax.lake._export import export_duckdb
from modax.lake._filesystem import arrow_filesystem
from modax.lake._layout import PartitionLayout
from modax.lake._log import Damage, Problem
from modax.lake._maintenance import Maintenance, MaintenanceMetrics

__all__ = [
    "DATE_SOURCES",
    "CorruptTableError",
    "Damage",
    "Lake",
    "LakeConnection",
    "LakeError",
    "LakeResult",
    "Maintenance",
    "MaintenanceMetrics",
    "PartitionLayout",
    "Problem",
    "arrow_filesystem",
    "connect",
    "export_duckdb",
]
