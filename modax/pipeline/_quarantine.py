"""Quarantine without repeats costing disk or memory: identical bad messages are counted.

A bad message is identified by its topic and the SHA-256 of its payload. Identical ones in a
batch become one row with their ``count`` and first and last receive times
(:func:`collapse_repeats`). A payload is stored once per UTC day (per ``date`` partition, so a
repeat's payload is kept as long as the repeat is): later rows of that day that repeat it keep
their count and times with a null ``payload`` (:class:`QuarantineIndex`). Nothing is dropped.
"""

from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict
from collections.abc import Iterable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from modax.lake import Lake
from modax.schema import QUARANTINE_SCHEMA

__all__ = ["QuarantineIndex", "collapse_repeats"]

log = logging.getLogger("modax.pipeline")

_TABLE = "quarantine"


def collapse_repeats(table: pa.Table) -> pa.Table:
    """One row per distinct ``(topic, payload_sha256)``, in order of first arrival.

    ``count`` is summed, ``first_seen`` is the earliest and ``last_seen`` the latest of the
    group; the other columns are those of the group's first row.

    Examples
    --------
    >>> from modax.schema import quarantine_rows
    >>> rows = quarantine_rows(["t", "t", "u"], [b"x", b"x", b"x"], ["not_json"] * 3,
    ...                        [None] * 3, ["bad"] * 3, [1, 5, 9])
    >>> collapse_repeats(rows).select(["topic", "count"]).to_pylist()
    [{'topic': 't', 'count': 2}, {'topic': 'u', 'count': 1}]
    """
    if table.num_rows < 2:
        return table
    numbered = table.append_column("_row", pa.array(np.arange(table.num_rows)))
    groups = (
        numbered.group_by(["topic", "payload_sha256"], use_threads=False)
        .aggregate([("_row", "min"), ("count", "sum"), ("first_seen", "min"), ("last_seen", "max")])
        .sort_by("_row_min")
    )
    if groups.num_rows == table.num_rows:
        return table
    out = table.take(groups["_row_min"])
    for name, column in (
        ("count", "count_sum"),
        ("first_seen", "first_seen_min"),
        ("last_seen", "last_seen_max"),
    ):
        out = out.set_column(out.schema.get_field_index(name), name, groups[column])
    return out


def _keys(topics: Iterable[str], hashes: Iterable[str]) -> list[int]:
    return [hash(pair) for pair in zip(topics, hashes, strict=True)]


def _day_ints(table: pa.Table) -> np.ndarray:
    days = pc.cast(table["date"], pa.int32()).to_numpy(zero_copy_only=False)
    return np.asarray(days, dtype=np.int32)


class QuarantineIndex:
    """Which bad payloads the ``quarantine`` table holds, for the newest ``max_dates`` days.

    A day's keys are read from its partition the first time a batch touches that day: the
    ``topic`` and ``payload_sha256`` columns only (rows written before decision 0009 have no
    hash and are hashed from their payload). So memory and the work after a restart follow the
    bad messages of a few days, not the whole table.

    Parameters
    ----------
    lake : Lake
    max_dates : int
        Days kept in memory (least recently used are dropped).
    max_keys_per_date : int
        Keys remembered per day; past that, a repeat of a payload the index has not kept stores
        its (bounded) payload once more rather than cost more memory.
    """

    def __init__(self, lake: Lake, max_dates: int = 3, max_keys_per_date: int = 200_000) -> None:
        self.lake = lake
        self.max_dates = max_dates
        self.max_keys_per_date = max_keys_per_date
        self._dates: OrderedDict[int, set[int]] = OrderedDict()
        self._stored_names: list[str] | None = None

    @property
    def keys(self) -> int:
        """Keys held, over every cached day."""
        return sum(len(keys) for keys in self._dates.values())

    def _date(self, day: int) -> set[int]:
        keys = self._dates.get(day)
        if keys is None:
            keys = self._dates[day] = self._read(day)
        self._dates.move_to_end(day)
        while len(self._dates) > self.max_dates:
            self._dates.popitem(last=False)
        return keys

    def _read(self, day: int) -> set[int]:
        if not self.lake.exists(_TABLE):
            return set()
        dataset = self.lake.dataset(_TABLE)
        on_day = ds.field("date") == pa.scalar(day, pa.int32()).cast(pa.date32())
        topics: list[str] = []
        hashes: list[str] = []
        unhashed = on_day
        if "payload_sha256" in dataset.schema.names:
            hashed = dataset.to_table(
                columns=["topic", "payload_sha256"],
                filter=on_day & ds.field("payload_sha256").is_valid(),
            )
            topics += hashed["topic"].to_pylist()
            hashes += hashed["payload_sha256"].to_pylist()
            unhashed = on_day & ds.field("payload_sha256").is_null()
        old = dataset.to_table(columns=["topic", "payload"], filter=unhashed)
        topics += old["topic"].to_pylist()
        hashes += [hashlib.sha256(p or b"").hexdigest() for p in old["payload"].to_pylist()]
        return set(_keys(topics, hashes)[: self.max_keys_per_date])

    def without_stored_payloads(self, table: pa.Table) -> pa.Table:
        """``table`` (quarantine rows with ``date``) with ``payload`` null where its day has it."""
        keys = np.array(_keys(table["topic"].to_pylist(), table["payload_sha256"].to_pylist()))
        days = _day_ints(table)
        stored = np.zeros(table.num_rows, dtype=bool)
        for day in np.unique(days).tolist():
            rows = np.flatnonzero(days == day)
            known = self._date(day)
            stored[rows] = [k in known for k in keys[rows].tolist()]
        if not stored.any():
            return table
        payload = pc.if_else(pa.array(stored), pa.scalar(None, pa.binary()), table["payload"])
        return table.set_column(table.schema.get_field_index("payload"), "payload", payload)

    def add(self, table: pa.Table) -> None:
        """Record rows just committed to ``quarantine``."""
        if table.num_rows == 0:
            return
        keys = np.array(_keys(table["topic"].to_pylist(), table["payload_sha256"].to_pylist()))
        days = _day_ints(table)
        for day in np.unique(days).tolist():
            known = self._date(day)
            room = max(self.max_keys_per_date - len(known), 0)
            known.update(keys[days == day][:room].tolist())

    def stored_layout(self, table: pa.Table) -> pa.Table:
        """``table`` with only the columns a ``quarantine`` table made before decision 0009 has.

        Such a table cannot take the new columns (the lake appends without schema changes);
        its new rows lose ``payload_bytes``, the hash and the counts, never the row itself.
        """
        if self._stored_names is None:
            if not self.lake.exists(_TABLE):
                return table
            self._stored_names = self.lake.dataset(_TABLE).schema.names
            if set(QUARANTINE_SCHEMA.names) - set(self._stored_names):
                log.warning(
                    "the quarantine table predates size, hash and count columns: new rows are "
                    "written without them (create the table anew to have them)"
                )
        return table.select([n for n in table.column_names if n in self._stored_names])
