"""Remember which messages a lake table already holds, so re-delivery and re-replay add nothing.

A message's identity is ``(device_id, seq)``, or ``(device_id, timestamp)`` when it has no
``seq``. Identities are hashed to 64-bit keys; per UTC date partition the index keeps a sorted
array of the keys stored there, read from the partition's files the first time a batch touches
that date and, after every commit, from the files other writers (another ingester) added since.
Memory: 8 bytes per stored message of each cached date (the newest ``max_dates``).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from modax.lake import Lake

__all__ = ["DedupeIndex", "message_keys"]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _device_hash(device_id: str) -> int:
    return int.from_bytes(hashlib.blake2b(device_id.encode(), digest_size=8).digest(), "little")


def message_keys(device_id: pa.Array, seq: pa.Array, timestamp: pa.Array) -> np.ndarray:
    """64-bit identity keys of messages (``seq`` when present, else ``timestamp``).

    Examples
    --------
    >>> k = message_keys(pa.array(["a", "a", "b"]), pa.array([1, 1, None]), pa.array([5, 6, 5]))
    >>> bool(k[0] == k[1]), bool(k[0] == k[2])
    (True, False)
    """
    encoded = (
        pc.dictionary_encode(device_id).combine_chunks()
        if isinstance(device_id, pa.ChunkedArray)
        else pc.dictionary_encode(device_id)
    )
    hashes = np.array([_device_hash(d) for d in encoded.dictionary.to_pylist()], dtype=np.uint64)
    dev = hashes[encoded.indices.to_numpy(zero_copy_only=False)] if len(hashes) else hashes
    has_seq = pc.is_valid(seq).to_numpy(zero_copy_only=False)
    seq_values = pc.fill_null(seq, 0).to_numpy(zero_copy_only=False).astype(np.uint64)
    ts_values = pc.fill_null(timestamp, 0).to_numpy(zero_copy_only=False).astype(np.uint64)
    tagged = np.where(has_seq, seq_values << np.uint64(1), (ts_values << np.uint64(1)) | 1)
    with np.errstate(over="ignore"):
        return (dev ^ (tagged * _GOLDEN)).astype(np.uint64)


def _merged(stored: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """The sorted union of sorted, unique ``stored`` and any ``keys``, in time linear in both.

    A stable sort of two sorted runs is one merge (timsort); ``np.union1d`` sorts everything
    again, which over a day of messages made every batch slower than the one before (5 s for a
    batch into 5 M stored keys, against 16 ms here).

    Examples
    --------
    >>> _merged(np.array([2, 5, 9], np.uint64), np.array([9, 1, 5, 7], np.uint64)).tolist()
    [1, 2, 5, 7, 9]
    """
    merged = np.sort(np.concatenate([stored, np.unique(keys)]), kind="stable")
    first = np.empty(len(merged), dtype=bool)
    first[:1] = True
    np.not_equal(merged[1:], merged[:-1], out=first[1:])
    return merged[first]


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
        self._keys: OrderedDict[int, np.ndarray] = OrderedDict()
        self._files: dict[int, set[str]] = {}
        self._version: int | None = None

    def _read_new_files(self, days: list[int]) -> None:
        """Index files of ``days`` that this index has not read yet (other writers' commits too)."""
        if not self.lake.exists(self.table):
            return
        version = self.lake.version(self.table)
        loaded = [day for day in days if day in self._keys]
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
            if not new:
                self._keys.setdefault(day, np.empty(0, dtype=np.uint64))
                continue
            rows = pa.concat_tables(
                [f.to_table(columns=["device_id", "seq", "timestamp"]) for f in new]
            )
            keys = message_keys(rows["device_id"], rows["seq"], rows["timestamp"])
            self._keys[day] = _merged(self._keys.get(day, np.empty(0, np.uint64)), keys)
            seen.update(f.path for f in new)
        self._version = version

    def _stored(self, day: int) -> np.ndarray:
        self._keys.setdefault(day, np.empty(0, dtype=np.uint64))
        self._keys.move_to_end(day)
        while len(self._keys) > self.max_dates:
            dropped, _ = self._keys.popitem(last=False)
            self._files.pop(dropped, None)
        return self._keys[day]

    def new_rows(
        self, device_id: pa.Array, seq: pa.Array, timestamp: pa.Array, date: pa.Array
    ) -> np.ndarray:
        """Boolean mask of rows not stored yet and not repeated earlier in the same batch."""
        n = len(device_id)
        if n == 0:
            return np.zeros(0, dtype=bool)
        keys = message_keys(device_id, seq, timestamp)
        days = _date_ints(date)
        mask = np.zeros(n, dtype=bool)
        _, first = np.unique(np.stack([keys, days.astype(np.uint64)]), axis=1, return_index=True)
        mask[first] = True
        unique_days = [int(d) for d in np.unique(days)]
        self._read_new_files(unique_days)
        for day in unique_days:
            stored = self._stored(day)
            if len(stored):
                rows = np.flatnonzero(days == day)
                pos = np.searchsorted(stored, keys[rows]).clip(max=len(stored) - 1)
                mask[rows[stored[pos] == keys[rows]]] = False
        return mask

    def add(
        self,
        device_id: pa.Array,
        seq: pa.Array,
        timestamp: pa.Array,
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
        keys = message_keys(device_id, seq, timestamp)
        days = _date_ints(date)
        for day in np.unique(days):
            stored = self._stored(int(day))
            self._keys[int(day)] = _merged(stored, keys[days == day])
