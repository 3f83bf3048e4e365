"""The one path every message takes: decode → validate → dedupe → event time → derive → lake.

Live ingestion, replay of a file and tests all hand batches of raw ``(topic, payload,
received_at)`` to :meth:`Pipeline.process`. Bad input never stops it and is never dropped: it goes
to ``quarantine`` with its reason. Each table's append is one atomic Delta commit; raw tables are
written before the tables derived from them, so a crash between the two can only lose derived rows,
which can be rebuilt from ``telemetry``. A commit that fails leaves the pipeline ready for the
batch to be retried: the raw rows it did commit and the derived rows it could not are kept, with
the derivers' state, so the derived tables end up as if nothing had failed; a new pipeline
rebuilds that state from the stored readings when the process stopped without flushing
(decision 0002).
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from modax.kernels.deriver import KernelDeriver
from modax.lake import Lake
from modax.lake._delta import _with_date
from modax.pipeline._clock import BootClock, stored_boots
from modax.pipeline._dedupe import DedupeIndex
from modax.pipeline._resume import RESUME_SPAN_MS, Resumable, newer_rows, stored_tail
from modax.schema import (
    DEVICE_SAFETY_SCHEMA,
    DEVICES_SCHEMA,
    QUARANTINE_SCHEMA,
    TELEMETRY_SCHEMA,
    decode_batch,
)

__all__ = ["BatchResult", "Deriver", "Pipeline"]


class Deriver(Protocol):
    """Computes derived tables (safety events, aggregates, scores) from stored readings.

    State carries across batches; :meth:`flush` emits what is still open at shutdown.
    """

    def process(
        self, telemetry: pa.Table, device_safety: pa.Table, now_ms: int
    ) -> dict[str, pa.Table]:
        """Derived rows for one batch of new (deduplicated) readings, by lake table name."""
        ...

    def flush(self) -> dict[str, pa.Table]:
        """Derived rows still held in state (e.g. open windows), by lake table name."""
        ...


@dataclass
class BatchResult:
    """What one :meth:`Pipeline.process` call did.

    Attributes
    ----------
    received : int
        Messages handed in.
    accepted : int
        Valid messages newly stored.
    duplicates : int
        Valid messages skipped because the lake already held them.
    quarantined : Counter
        Rejected messages newly stored in ``quarantine``, by reason.
    rows : dict
        Rows appended per lake table, derived tables included.
    events : pyarrow.Table or None
        Safety events derived from this batch (``safety_events`` rows), if any.
    """

    received: int = 0
    accepted: int = 0
    duplicates: int = 0
    quarantined: Counter[str] = field(default_factory=Counter)
    rows: Counter[str] = field(default_factory=Counter)
    events: pa.Table | None = None

    def merge(self, other: BatchResult) -> None:
        """Add ``other``'s counts to this one (events are not kept)."""
        self.received += other.received
        self.accepted += other.accepted
        self.duplicates += other.duplicates
        self.quarantined.update(other.quarantined)
        self.rows.update(other.rows)


def _quarantine_keys(table: pa.Table) -> np.ndarray:
    topics = table["topic"].to_pylist()
    payloads = table["payload"].to_pylist()
    return np.array(
        [
            int.from_bytes(
                hashlib.blake2b(t.encode() + b"\0" + p, digest_size=8).digest(), "little"
            )
            for t, p in zip(topics, payloads, strict=True)
        ],
        dtype=np.uint64,
    )


class _QuarantineIndex:
    """Identical rejected payloads on the same topic are stored once (at-least-once redelivery)."""

    def __init__(self, lake: Lake) -> None:
        self.lake = lake
        self._keys: set[int] | None = None

    def _stored(self) -> set[int]:
        if self._keys is None:
            self._keys = set()
            if self.lake.exists("quarantine"):
                self._keys.update(
                    _quarantine_keys(self.lake.read("quarantine", columns=["topic", "payload"]))
                )
        return self._keys

    def new_rows(self, table: pa.Table) -> tuple[np.ndarray, np.ndarray]:
        keys = _quarantine_keys(table)
        stored = self._stored()
        mask = np.zeros(len(keys), dtype=bool)
        seen: set[int] = set()
        for i, k in enumerate(keys.tolist()):
            if k not in stored and k not in seen:
                mask[i] = True
                seen.add(k)
        return mask, keys[mask]

    def add(self, keys: np.ndarray) -> None:
        self._stored().update(keys.tolist())


def _concat(tables: list[pa.Table], schema: pa.Schema) -> pa.Table:
    return pa.concat_tables(tables) if tables else schema.empty_table()


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    return _with_date(table).select(schema.names).cast(schema)


class Pipeline:
    """Turns raw messages into lake rows, exactly once per message.

    Parameters
    ----------
    lake : Lake, str or Path, optional
        Where to write (``MODAX_LAKE`` when ``None``).
    derivers : list of Deriver, optional
        The derive step; by default the safety and aggregation kernels
        (:class:`~modax.kernels.deriver.KernelDeriver`). The CLI adds the live wear estimate
        (:func:`modax.cli.build_pipeline`).

    Examples
    --------
    >>> import tempfile
    >>> p = Pipeline(tempfile.mkdtemp(), derivers=[])
    >>> r = p.process(["modax/devices/m1/status", "modax/devices/m1/telemetry"],
    ...               [b'{"device_id": "m1", "online": true}', b"not json"],
    ...               [1_700_000_000_000, 1_700_000_000_001])
    >>> r.accepted, dict(r.quarantined)
    (1, {'not_json': 1})
    """

    def __init__(
        self, lake: Lake | str | None = None, derivers: Sequence[Deriver] | None = None
    ) -> None:
        self.lake = lake if isinstance(lake, Lake) else Lake(lake)
        self.derivers = list([KernelDeriver()] if derivers is None else derivers)
        self.clock = BootClock()
        self._boots_loaded = False
        self._resumed = False
        self._first_ts: int | None = None  # event time (ms) of the first batch's first reading
        self._stored_until: tuple[dict[str, str], dict[str, dict[str, int]]] | None = None
        self._underived: dict[str, list[pa.Table]] = {"telemetry": [], "device_safety": []}
        self._unwritten: list[tuple[str, pa.Table]] = []
        self._telemetry_index = DedupeIndex(self.lake, "telemetry")
        self._safety_index = DedupeIndex(self.lake, "device_safety")
        self._quarantine_index = _QuarantineIndex(self.lake)

    def _dedupe(
        self, table: pa.Table | None, index: DedupeIndex, schema: pa.Schema
    ) -> tuple[pa.Table, int]:
        if table is None or table.num_rows == 0:
            return schema.empty_table(), 0
        if "ts" not in table.column_names:
            if not self._boots_loaded:  # an ingester that restarts keeps the boots it stored
                self.clock.load(stored_boots(self.lake, ("telemetry", "device_safety")))
                self._boots_loaded = True
            decoded = table

            def stored(device_id: str, ts_ms: int, row: int) -> bool:
                return index.holds(device_id, ts_ms, decoded.slice(row, 1))

            ts = self.clock.event_time(
                table["device_id"],
                table["timestamp"],
                table["received_at"],
                stream=index.table,
                stored=stored,
            )
            table = table.append_column("ts", ts)
        table = _conform(table, schema)
        if self._first_ts is None and index is self._telemetry_index:
            self._first_ts = int(pc.min(pc.cast(table["ts"], pa.int64())).as_py())
        mask = index.new_rows(table["device_id"], table["seq"], table["ts"], table["date"])
        kept = table.filter(pa.array(mask))
        return kept, int(table.num_rows - kept.num_rows)

    def process(
        self,
        topics: Sequence[str],
        payloads: Sequence[bytes],
        received_at_ms: Sequence[int] | np.ndarray,
    ) -> BatchResult:
        """Decode, validate, dedupe, derive and store one batch of raw messages."""
        batch = decode_batch(topics, payloads, received_at_ms)
        return self.store(batch.telemetry, batch.safety, batch.status, batch.rejected)

    def store(
        self,
        telemetry: pa.Table | None = None,
        device_safety: pa.Table | None = None,
        status: pa.Table | None = None,
        rejected: pa.Table | None = None,
    ) -> BatchResult:
        """Dedupe, derive and store tables that are already decoded and valid.

        This is how batch producers (the simulator's fast mode) take the same path as live
        messages. Tables have the decoded or lake columns (``ts`` is derived when absent).
        """
        result = BatchResult(
            received=sum(t.num_rows for t in (telemetry, device_safety, status, rejected) if t)
        )
        telemetry, dup_t = self._dedupe(telemetry, self._telemetry_index, TELEMETRY_SCHEMA)
        safety, dup_s = self._dedupe(device_safety, self._safety_index, DEVICE_SAFETY_SCHEMA)
        result.duplicates = dup_t + dup_s
        if not self._resumed and self._first_ts is not None:
            self._resume(self._first_ts)

        if rejected is None or rejected.num_rows == 0:
            rejected, q_keys = QUARANTINE_SCHEMA.empty_table(), np.empty(0, dtype=np.uint64)
        else:
            q_mask, q_keys = self._quarantine_index.new_rows(rejected)
            rejected = _conform(rejected.filter(pa.array(q_mask)), QUARANTINE_SCHEMA)
        result.quarantined.update(rejected["reason"].to_pylist())

        status = (
            _conform(status, DEVICES_SCHEMA)
            if status is not None and status.num_rows
            else DEVICES_SCHEMA.empty_table()
        )
        writes = {
            "telemetry": telemetry,
            "device_safety": safety,
            "devices": status,
            "quarantine": rejected,
        }
        versions = {}
        try:
            for name, table in writes.items():
                versions[name] = self._append(name, table, result)
                if name in self._underived and table.num_rows:
                    self._underived[name].append(table)  # committed: derived in any case
        except Exception:
            self._forget_boots()
            raise
        for name, index in (
            ("telemetry", self._telemetry_index),
            ("device_safety", self._safety_index),
        ):
            table = writes[name]
            if table.num_rows:
                keys = (table["device_id"], table["seq"], table["ts"], table["date"])
                index.add(*keys, version=versions[name])
        self._quarantine_index.add(q_keys)
        result.accepted = telemetry.num_rows + safety.num_rows + status.num_rows

        telemetry = _concat(self._underived["telemetry"], TELEMETRY_SCHEMA)
        safety = _concat(self._underived["device_safety"], DEVICE_SAFETY_SCHEMA)
        self._underived = {"telemetry": [], "device_safety": []}
        now_ms = int(time.time() * 1000)
        for deriver in self.derivers:
            self._unwritten.extend(self._new(deriver, deriver.process(telemetry, safety, now_ms)))
        self._write_derived(result)
        return result

    def _resume(self, first_ts_ms: int) -> None:
        """Before the first batch is stored: rebuild resumable derivers' state from the lake.

        A process that stopped without flushing lost its derivers' open windows and the rows of
        a batch it committed but could not derive; see :mod:`modax.pipeline._resume`. From then
        on, their rows at or before a device's last stored one are not appended again.
        """
        resumable = [d for d in self.derivers if isinstance(d, Resumable)]
        outputs = {name: col for d in resumable for name, col in d.outputs().items()}
        tail = stored_tail(self.lake, outputs, first_ts_ms) if outputs else None
        self._resumed = True  # once the lake answered (a failed read is retried with the batch)
        if tail is None:
            return
        telemetry, safety, lasts = tail
        self._stored_until = (outputs, lasts)
        now_ms = int(time.time() * 1000)
        lo = first_ts_ms - RESUME_SPAN_MS  # rows before it were derived, stored or not
        for deriver in resumable:
            rows = deriver.process(telemetry, safety, now_ms)
            self._unwritten.extend(self._new(deriver, rows, lo))

    def _new(
        self, deriver: Deriver, tables: dict[str, pa.Table], lo: int | None = None
    ) -> list[tuple[str, pa.Table]]:
        """A deriver's output without the rows a resumed deriver had already stored."""
        if self._stored_until is None or not isinstance(deriver, Resumable):
            return list(tables.items())
        outputs, lasts = self._stored_until
        return [
            (name, newer_rows(table, outputs[name], lasts[name], lo) if name in outputs else table)
            for name, table in tables.items()
        ]

    def new_session(self) -> None:
        """A new broker session starts: its first messages may be redeliveries of stored ones.

        Each device stream's next since-boot reading is then placed by time and by what the lake
        holds, instead of a step back in time being taken for a reboot (:class:`BootClock`).
        """
        self.clock.new_session()

    def _forget_boots(self) -> None:
        """After a failed commit: the retried batch's readings are placed again from the lake."""
        self.clock = BootClock(self.clock.reboot_tolerance_ms)
        self._boots_loaded = False

    def _write_derived(self, result: BatchResult) -> None:
        """Append the derived rows not written yet; on failure keep the rest for the next call."""
        try:
            while self._unwritten:
                name, table = self._unwritten[0]
                self._append(name, table, result)
                if name == "safety_events" and table.num_rows:
                    events = [table] if result.events is None else [result.events, table]
                    result.events = pa.concat_tables(events)
                del self._unwritten[0]
        except Exception:
            self._forget_boots()
            raise

    def _append(self, name: str, table: pa.Table, result: BatchResult) -> int | None:
        """Append ``table`` to ``name`` if it has rows; the table's new version (or None)."""
        if not table.num_rows:
            return None
        version = self.lake.append(name, table)
        result.rows[name] += table.num_rows
        return version

    def close(self) -> BatchResult:
        """Flush what the derivers still hold (open windows) to the lake; save the dedupe index."""
        result = BatchResult()
        for deriver in self.derivers:
            self._unwritten.extend(self._new(deriver, deriver.flush()))
        self._write_derived(result)
        self._telemetry_index.save()
        self._safety_index.save()
        return result
