"""Remember which messages a lake table already holds, so re-delivery and re-replay add nothing.

A message's identity is ``(device_id, seq)``, or ``(device_id, ts)`` when it has no ``seq``: the
event time, which for a device without NTP holds its boot (:class:`modax.pipeline.BootClock`), so
two boots that repeat the same since-boot timestamps are two sets of readings. Per UTC date
partition the index holds the identities stored there as intervals of consecutive values per
device (:class:`modax.pipeline._identities.IdentitySet`), read from the partition's files the
first time a batch touches that date and, after every commit, from the files other writers
(another ingester) added since; files a compaction wrote hold rows indexed already and are not
read back. ``seq`` counts up one by one within a boot (decision 0003), so
memory follows the gaps in a device's sequence, not its messages: about 24 bytes per gap and 8
per device of each cached date (the newest ``max_dates``). Messages without ``seq`` take one
interval each.

The index is saved beside the table (``{lake}/_state/dedupe/{table}/date=….arrow``: the intervals
and the table version whose files they cover) every ``save_every_s`` and when the pipeline
closes, so a restart reads the saved intervals and the files committed since, not the whole date
(decision 0002).
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from datetime import date, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from modax.kernels._devices import DeviceCodes
from modax.lake import Lake, arrow_filesystem
from modax.pipeline._identities import (
    TIMESTAMP_TAG,
    IdentitySet,
    read_identities,
    write_identities,
)
from modax.schema import UTC_MS

__all__ = ["DedupeIndex"]

log = logging.getLogger(__name__)

_DAY_MS = 86_400_000
_DAY_ZERO = date(1970, 1, 1)
#: Saved indexes, under the lake root: ``{STATE_DIR}/{table}/date=YYYY-MM-DD.arrow``.
STATE_DIR = "_state/dedupe"
_COLUMNS = ["device_id", "seq", "ts"]
#: Columns that differ between a message and its redelivery.
_NOT_VALUES = {"received_at", "ts", "date"}
#: Rows read at a time when a date's files are indexed (bounds the memory it takes).
_SLICE_ROWS = 1 << 20


def _on(day: int) -> ds.Expression:
    return ds.field("date") == pa.scalar(day, pa.int32()).cast(pa.date32())


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
    return np.asarray(np.where(has_seq, seq_values, ts_values | TIMESTAMP_TAG), dtype=np.uint64)


def _date_ints(date: pa.Array) -> np.ndarray:
    return np.asarray(pc.cast(date, pa.int32()).to_numpy(zero_copy_only=False), dtype=np.int32)


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

    def __init__(
        self, lake: Lake, table: str, max_dates: int = 3, save_every_s: float = 60.0
    ) -> None:
        self.lake = lake
        self.table = table
        self.max_dates = max_dates
        self.save_every_s = save_every_s
        self._devices = DeviceCodes()
        self._stores: OrderedDict[int, IdentitySet] = OrderedDict()
        self._files: dict[int, set[str]] = {}
        self._covered: dict[int, int] = {}  # date -> the table version whose files it indexed
        self._filesystem = arrow_filesystem(lake.root, lake.storage_options)
        self._saved_at = time.monotonic()

    def saved_path(self, day: int) -> str:
        """Where the index of date ``day`` (days since 1970-01-01) is saved, under the lake root."""
        return f"{STATE_DIR}/{self.table}/date={_DAY_ZERO + timedelta(days=day)}.arrow"

    def _read_new_files(self, days: list[int]) -> None:
        """Index files of ``days`` that this index has not read yet (other writers' commits too).

        A date first touched starts from its saved index, if there is one, and reads only the
        files committed after it; each file is read in slices, so memory follows the slice.
        """
        version = self.lake.version(self.table) if self.lake.exists(self.table) else -1
        stale = [day for day in days if self._covered.get(day) != version]
        if not stale:
            return
        if version < 0:  # no table yet: nothing stored, its first commit will be version 0
            for day in stale:
                self._stores.setdefault(day, IdentitySet())
                self._covered[day] = version
            return
        dataset = self.lake.dataset(self.table)
        for day in stale:
            if day not in self._stores:
                self._load(day)
            seen = self._files.setdefault(day, set())
            store = self._stores.setdefault(day, IdentitySet())
            fragments = list(dataset.get_fragments(filter=_on(day)))
            seen |= self._rewritten(day, version, {fragment.path for fragment in fragments})
            for fragment in fragments:
                if fragment.path in seen:
                    continue
                for rows in fragment.to_batches(columns=_COLUMNS, batch_size=_SLICE_ROWS):
                    store.add(*self._identities(rows["device_id"], rows["seq"], rows["ts"]))
                seen.add(fragment.path)
            self._covered[day] = version

    def _rewritten(self, day: int, version: int, current: set[str]) -> set[str]:
        """Files of date ``day`` that compactions after the covered version wrote.

        Their rows are rows the partition held before (``dataChange: false`` in the Delta log):
        indexed already when every file that brought new rows since is still there to be read.
        When a compaction rewrote such a file before this index read it, or the log cannot
        tell, nothing is skipped.
        """
        covered = self._covered.get(day)
        if covered is None:
            return set()
        added = self.lake.files_added(self.table, covered, version)
        if added is None:
            return set()
        on_day = str(_DAY_ZERO + timedelta(days=day))
        files = [(path, changes) for path, values, changes in added if values.get("date") == on_day]
        if any(changes and path not in current for path, changes in files):
            return set()
        return {path for path, changes in files if not changes}

    def _load(self, day: int) -> None:
        """Start date ``day`` from its saved index; nothing happens when there is none."""
        if self._filesystem is None:
            return
        path = self.saved_path(day)
        try:
            with self._filesystem.open_input_file(path) as source:
                device_ids, codes, lo, hi, version = read_identities(source)
            covered = self.lake.dataset(self.table, version).get_fragments(filter=_on(day))
            files = {fragment.path for fragment in covered}
        except FileNotFoundError:
            return
        except Exception as exc:  # unreadable, or its version is gone: read the files instead
            log.warning("ignoring the saved index %s (%s: %s)", path, type(exc).__name__, exc)
            return
        devices = self._devices.encode(device_ids)[codes] if len(codes) else codes
        self._stores[day] = IdentitySet.from_intervals(devices, lo, hi)
        self._files[day] = files
        self._covered[day] = version

    def save(self) -> None:
        """Save each cached date's index beside the table, with the table version it covers.

        A restarted index loads it and reads only the files committed since (instead of the
        whole date). Written to a temporary name, then moved into place.
        """
        self._saved_at = time.monotonic()
        if self._filesystem is None:
            return
        for day, store in self._stores.items():
            version = self._covered.get(day)
            if version is None:
                continue
            path = self.saved_path(day)
            self._filesystem.create_dir(path.rsplit("/", 1)[0])
            with self._filesystem.open_output_stream(f"{path}.tmp") as sink:
                write_identities(sink, self._devices.names, store, version)
            self._filesystem.move(f"{path}.tmp", path)

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
            self._covered.pop(dropped, None)
        return store

    def holds(self, device_id: str, ts_ms: int, reading: pa.Table) -> bool:
        """Whether the table holds ``reading`` (one row, decoded, no ``seq``) at ``ts_ms`` (UTC).

        The stored row of ``device_id`` at that time must also have the reading's values: the
        same time with other values is another reading (a reboot that repeats since-boot
        timestamps), not a redelivery.
        """
        day = ts_ms // _DAY_MS
        self._read_new_files([day])
        code = np.array([self._devices.code(device_id)])
        value = np.array([ts_ms], np.uint64) | TIMESTAMP_TAG
        if not self._stored(day).contains(code, value)[0]:
            return False
        at = pa.scalar(ts_ms, pa.int64()).cast(UTC_MS)
        stored = self.lake.read(
            self.table,
            filter=_on(day) & (ds.field("device_id") == device_id) & (ds.field("ts") == at),
        )
        names = [
            n for n in reading.column_names if n in stored.column_names and n not in _NOT_VALUES
        ]
        mine = reading.select(names).cast(stored.select(names).schema).to_pylist()[0]
        return mine in stored.select(names).to_pylist()

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
        read this writer's own file back. Every ``save_every_s`` the index is saved.
        """
        if version is not None:
            for day, covered in self._covered.items():
                if covered == version - 1:
                    self._covered[day] = version
        if len(device_id) == 0:
            return
        devices, values = self._identities(device_id, seq, ts)
        days = _date_ints(date)
        for day in np.unique(days):
            rows = days == day
            self._stored(int(day)).add(devices[rows], values[rows])
        if time.monotonic() - self._saved_at >= self.save_every_s:
            self.save()
