"""Remember which messages a lake table already holds, so re-delivery and re-replay add nothing.

A message's identity is ``(device_id, seq)``, or ``(device_id, ts)`` when it has no ``seq``: the
event time, which for a device without NTP holds its boot (:class:`modax.pipeline.BootClock`), so
two boots that repeat the same since-boot timestamps are two sets of readings. Per UTC date
partition the index holds the identities stored there as intervals of consecutive values per
device (:class:`modax.pipeline._identities.IdentitySet`), read from the partition's files the
first time a batch touches that date and, after every commit, from the files other writers
(another ingester) added since. ``seq`` counts up one by one within a boot (decision 0003), so
memory follows the gaps in a device's sequence, not its messages: about 24 bytes per gap and 8
per device of each cached date (the newest ``max_dates``). Messages without ``seq`` take one
interval each.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from modax.kernels._devices import DeviceCodes
from modax.lake import Lake
from modax.pipeline._identities import TIMESTAMP_TAG, IdentitySet
from modax.schema import UTC_MS

__all__ = ["DedupeIndex"]

_DAY_MS = 86_400_000


def _identity_values(seq: pa.Array, ts: pa.Array) -> np.ndarray:
    """``seq`` where present, else the event time (epoch ms) with :data:`TIMESTAMP_TAG` set.

    Examples
    --------
    >>> _identity_values(pa.array([7, None]), pa.array([5, 6])).tolist() == [7, 6 | 1 << 63]
    True
    """
    has_seq = pc.is_valid(seq).to_numpy(zero_copy_only=False)
    seq_values = pc.fill_null(seq, 0).to_numpy(zero_copy_only=False).astype(np.uint64)
    ts_ms = pc.cast(pc.cast(ts, UTC_MS), pa.int64()) if pa.types.is_timestamp(ts.type) else ts
    ts_values = pc.fill_null(ts_ms, 0).to_numpy(zero_copy_only=False).astype(np.uint64)
    return np.where(has_seq, seq_values, ts_values | TIMESTAMP_TAG)


def _date_ints(date: pa.Array) -> np.ndarray:
    return pc.cast(date, pa.int32()).to_numpy(zero_copy_only=False)


class DedupeIndex:
    """Which messages a table already stores, per date partition.

    Parameters
    ----------
    lake : Lake
    table : str
        The table whose rows are indexed (``telemetry`` or ``device_safety``).
    max_dates : int
        How many date partitions to keep in memory (least recently used are dropped).

    Examples
    --------
    >>> import tempfile
    >>> index = DedupeIndex(Lake(tempfile.mkdtemp()), "telemetry")
    >>> dev, seq, ts = pa.array(["m1", "m1"]), pa.array([7, 7]), pa.array([1, 1])
    >>> date = pa.array([20000, 20000], pa.int32()).cast(pa.date32())
    >>> index.new_rows(dev, seq, ts, date).tolist()  # the second is a repeat within the batch
    [True, False]
    """

    def __init__(self, lake: Lake, table: str, max_dates: int = 3) -> None:
        self.lake = lake
        self.table = table
        self.max_dates = max_dates
        self._devices = DeviceCodes()
        self._stores: OrderedDict[int, IdentitySet] = OrderedDict()
        self._files: dict[int, set[str]] = {}
        self._version: int | None = None

    def _read_new_files(self, days: list[int]) -> None:
        """Index files of ``days`` that this index has not read yet (other writers' commits too)."""
        if not self.lake.exists(self.table):
            return
        version = self.lake.version(self.table)
        loaded = [day for day in days if day in self._stores]
        if version == self._version and len(loaded) == len(days):
            return
        dataset = self.lake.dataset(self.table)
        for day in days:
            seen = self._files.setdefault(day, set())
            day_value = pa.scalar(day, pa.int32()).cast(pa.date32())
            new = [
                f
                for f in dataset.get_fragments(filter=ds.field("date") == day_value)
                if f.path not in seen
            ]
            store = self._stores.setdefault(day, IdentitySet())
            if new:
                rows = pa.concat_tables(
                    [f.to_table(columns=["device_id", "seq", "ts"]) for f in new]
                )
                store.add(*self._identities(rows["device_id"], rows["seq"], rows["ts"]))
                seen.update(f.path for f in new)
        self._version = version

    def _identities(
        self, device_id: pa.Array, seq: pa.Array, ts: pa.Array
    ) -> tuple[np.ndarray, np.ndarray]:
        """Device codes and identity values of messages."""
        return self._devices.encode(device_id), _identity_values(seq, ts)

    def _stored(self, day: int) -> IdentitySet:
        store = self._stores.setdefault(day, IdentitySet())
        self._stores.move_to_end(day)
        while len(self._stores) > self.max_dates:
            dropped, _ = self._stores.popitem(last=False)
            self._files.pop(dropped, None)
        return store

    def holds(self, device_id: str, ts_ms: int) -> bool:
        """Whether the table holds a reading of ``device_id`` without ``seq`` at ``ts_ms`` (UTC)."""
        day = ts_ms // _DAY_MS
        self._read_new_files([day])
        code = np.array([self._devices.code(device_id)])
        value = np.array([ts_ms], np.uint64) | TIMESTAMP_TAG
        return bool(self._stored(day).contains(code, value)[0])

    @property
    def nbytes(self) -> int:
        """Bytes the cached dates' identities hold."""
        return sum(store.nbytes for store in self._stores.values())

    def new_rows(
        self, device_id: pa.Array, seq: pa.Array, ts: pa.Array, date: pa.Array
    ) -> np.ndarray:
        """Boolean mask of rows not stored yet and not repeated earlier in the same batch."""
        n = len(device_id)
        if n == 0:
            return np.zeros(0, dtype=bool)
        devices, values = self._identities(device_id, seq, ts)
        days = _date_ints(date)
        mask = np.zeros(n, dtype=bool)
        triples = np.stack([devices.astype(np.uint64), values, days.astype(np.uint64)])
        _, first = np.unique(triples, axis=1, return_index=True)
        mask[first] = True
        unique_days = [int(d) for d in np.unique(days)]
        self._read_new_files(unique_days)
        for day in unique_days:
            rows = np.flatnonzero(days == day)
            mask[rows[self._stored(day).contains(devices[rows], values[rows])]] = False
        return mask

    def add(
        self,
        device_id: pa.Array,
        seq: pa.Array,
        ts: pa.Array,
        date: pa.Array,
        version: int | None = None,
    ) -> None:
        """Record rows that were just committed to the table (as its ``version``, if known).

        When that commit is the only one since the index last looked at the table, the index
        takes the new version as read: the rows are indexed here, so the next batch does not
        read this writer's own file back.
        """
        if version is not None and self._version is not None and version == self._version + 1:
            self._version = version
        if len(device_id) == 0:
            return
        devices, values = self._identities(device_id, seq, ts)
        days = _date_ints(date)
        for day in np.unique(days):
            rows = days == day
            self._stored(int(day)).add(devices[rows], values[rows])
