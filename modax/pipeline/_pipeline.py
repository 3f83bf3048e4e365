"""The one path every message takes: decode → validate → dedupe → event time → derive → lake.

Live ingestion, replay of a file and tests all hand batches of raw ``(topic, payload,
received_at)`` to :meth:`Pipeline.process`. Bad input never stops it and is never dropped: it goes
to ``quarantine`` with its reason, and a message that makes any step fail is found by splitting
the batch and quarantined as ``internal_error`` (decision 0009). Derived rows are computed before
anything is committed, so a failing derive step commits nothing. Each table's append is one atomic
Delta commit, raw tables before the tables derived from them. A commit that fails for the lake's
sake leaves what was not written queued, with the derivers' state, and the retried batch first
writes that queue: the derived tables end up as if nothing had failed. A new pipeline rebuilds
the derivers' state from the stored readings when the process stopped without flushing
(decision 0002).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from deltalake.exceptions import CommitFailedError, DeltaError

from modax.config import load_settings
from modax.kernels.deriver import KernelDeriver
from modax.lake import Lake, LakeError
from modax.lake._delta import _with_date
from modax.pipeline._clock import BootClock, stored_boots
from modax.pipeline._dedupe import DedupeIndex
from modax.pipeline._memory import release_memory
from modax.pipeline._quarantine import QuarantineIndex, collapse_repeats
from modax.pipeline._resume import RESUME_SPAN_MS, Resumable, newer_rows, stored_tail
from modax.schema import (
    DEVICE_SAFETY_SCHEMA,
    DEVICES_SCHEMA,
    QUARANTINE_SCHEMA,
    TELEMETRY_SCHEMA,
    Reason,
    decode_batch,
    quarantine_rows,
)

__all__ = ["BatchResult", "Deriver", "Pipeline"]

log = logging.getLogger("modax.pipeline")

#: Failures of the machinery rather than of a message: a batch that meets one is not split (its
#: messages are not to blame) but raised, for the caller to retry.
INFRASTRUCTURE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    MemoryError,
    CommitFailedError,
    LakeError,
)
#: What deltalake says (in a ``DeltaError``) when storage, not data, failed.
_STORAGE_WORDS = (
    "os error",
    "filesystem error",
    "object store",
    "objectstore",
    "no space left",
    "permission denied",
    "not a directory",
    "no such file",
    "i/o error",
    "connection",
    "timed out",
)


def is_infrastructure(error: BaseException) -> bool:
    """Whether ``error`` is the lake's or the machine's failure, not a message's.

    deltalake reports a failing disk or object store as a ``DeltaError`` whose text names the
    storage error; those count as infrastructure too.

    Examples
    --------
    >>> is_infrastructure(OSError(28, "No space left on device"))
    True
    >>> is_infrastructure(DeltaError("LocalFileSystem error: Not a directory (os error 20)"))
    True
    >>> is_infrastructure(OverflowError("int too big to convert"))
    False
    """
    if isinstance(error, INFRASTRUCTURE_ERRORS):
        return True
    text = str(error).lower()
    return isinstance(error, DeltaError) and any(word in text for word in _STORAGE_WORDS)


#: Characters of an exception's text kept in an ``internal_error`` quarantine row.
_DETAIL_CHARS = 1_000
#: Seconds between the times a pipeline gives freed memory back (:func:`release_memory`): a
#: burst (an ingester catching up on a backlog, big batches) otherwise stays resident.
RELEASE_EVERY_S = 60.0


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
    max_clock_skew_s : float, optional
        How far a device's epoch timestamp may be ahead of its receive time, in s; further ahead
        is quarantined (``timestamp_in_future``). ``MODAX_MAX_CLOCK_SKEW_S`` when ``None``.

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
        self,
        lake: Lake | str | None = None,
        derivers: Sequence[Deriver] | None = None,
        max_clock_skew_s: float | None = None,
    ) -> None:
        self.lake = lake if isinstance(lake, Lake) else Lake(lake)
        self.derivers = list([KernelDeriver()] if derivers is None else derivers)
        if max_clock_skew_s is None:
            max_clock_skew_s = load_settings().max_clock_skew_s
        self.max_clock_skew_ms = round(max_clock_skew_s * 1000)
        self.clock = BootClock()
        self._boots_loaded = False
        self._resumed = False
        self._first_ts: int | None = None  # event time (ms) of the first batch's first reading
        self._stored_until: tuple[dict[str, str], dict[str, dict[str, int]]] | None = None
        self._queue: list[tuple[str, pa.Table]] = []  # appends a failed commit left to do
        self._telemetry_index = DedupeIndex(self.lake, "telemetry")
        self._safety_index = DedupeIndex(self.lake, "device_safety")
        self._quarantine_index = QuarantineIndex(self.lake)
        self._released_at = time.monotonic()

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
        """Decode, validate, dedupe, derive and store one batch of raw messages.

        Never fails because of a message: a batch that fails for any reason but
        :func:`is_infrastructure` is split in halves until the message that fails alone is
        found; that message goes to ``quarantine`` as ``internal_error`` with the exception's
        text and every other one is stored.

        Parameters
        ----------
        topics, payloads : sequence of str, sequence of bytes
            One entry per message, in arrival order.
        received_at_ms : sequence of int
            Receive time of each message, epoch ms (UTC).

        Raises
        ------
        OSError, MemoryError, DeltaError, LakeError
            When the lake or the machine fails (:func:`is_infrastructure`; retry the batch,
            nothing is quarantined).
        """
        try:
            batch = decode_batch(topics, payloads, received_at_ms, self.max_clock_skew_ms)
            return self.store(batch.telemetry, batch.safety, batch.status, batch.rejected)
        except Exception as exc:
            if is_infrastructure(exc):
                raise
            return self._isolate(topics, payloads, received_at_ms, exc)

    def _isolate(
        self,
        topics: Sequence[str],
        payloads: Sequence[bytes],
        received_at_ms: Sequence[int] | np.ndarray,
        error: Exception,
    ) -> BatchResult:
        """Store ``error``'s batch in halves; a single failing message goes to quarantine."""
        detail = f"{type(error).__name__}: {error}"[:_DETAIL_CHARS]
        if len(topics) == 1:
            log.error("a message on %.100s fails the pipeline: %s", topics[0], detail)
            row = quarantine_rows(
                [topics[0]],
                [bytes(payloads[0])],
                [Reason.INTERNAL_ERROR.value],
                [None],
                [detail],
                [int(received_at_ms[0])],
            )
            return self.store(rejected=row)
        log.warning("a batch of %d failed (%s): splitting it", len(topics), detail)
        half = len(topics) // 2
        first = self.process(topics[:half], payloads[:half], received_at_ms[:half])
        second = self.process(topics[half:], payloads[half:], received_at_ms[half:])
        events = [e for e in (first.events, second.events) if e is not None]
        first.merge(second)
        first.events = pa.concat_tables(events) if events else None
        return first

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
        self._drain(result)  # a failed commit's rest first: its readings are then found stored
        telemetry, dup_t = self._dedupe(telemetry, self._telemetry_index, TELEMETRY_SCHEMA)
        safety, dup_s = self._dedupe(device_safety, self._safety_index, DEVICE_SAFETY_SCHEMA)
        result.duplicates = dup_t + dup_s

        if rejected is None or rejected.num_rows == 0:
            rejected = QUARANTINE_SCHEMA.empty_table()
        else:
            rejected = _conform(collapse_repeats(rejected), QUARANTINE_SCHEMA)
            rejected = self._quarantine_index.without_stored_payloads(rejected)
            for reason, count in zip(
                rejected["reason"].to_pylist(), rejected["count"].to_pylist(), strict=True
            ):
                result.quarantined[reason] += count

        status = (
            _conform(status, DEVICES_SCHEMA)
            if status is not None and status.num_rows
            else DEVICES_SCHEMA.empty_table()
        )
        if not self._resumed and self._first_ts is not None:
            self._resume(self._first_ts)
        now_ms = int(time.time() * 1000)
        derived = [
            (deriver, deriver.process(telemetry, safety, now_ms)) for deriver in self.derivers
        ]
        writes = {
            "telemetry": telemetry,
            "device_safety": safety,
            "devices": status,
            "quarantine": self._quarantine_index.stored_layout(rejected),
        }
        self._queue.extend((name, table) for name, table in writes.items() if table.num_rows)
        for deriver, tables in derived:
            self._queue.extend(self._new(deriver, tables))
        self._drain(result)
        self._quarantine_index.add(rejected)
        result.accepted = telemetry.num_rows + safety.num_rows + status.num_rows
        if time.monotonic() - self._released_at >= RELEASE_EVERY_S:
            release_memory()
            self._released_at = time.monotonic()
        return result

    def _drain(self, result: BatchResult) -> None:
        """Append the queued tables in order; a lake failure keeps the rest for the retry.

        Raises
        ------
        OSError, MemoryError, DeltaError, LakeError
            The lake failed: what was not written stays queued, and the retried batch (whose
            readings are then found stored) writes it first.
        """
        try:
            while self._queue:
                name, table = self._queue[0]
                version = self._append(name, table, result)
                index = {"telemetry": self._telemetry_index, "device_safety": self._safety_index}
                if name in index:
                    keys = (table["device_id"], table["seq"], table["ts"], table["date"])
                    index[name].add(*keys, version=version)
                if name == "safety_events":
                    events = [table] if result.events is None else [result.events, table]
                    result.events = pa.concat_tables(events)
                del self._queue[0]
        except Exception as exc:
            if not is_infrastructure(exc):
                # a table that cannot be written at all: the batch is split to find its message
                # (derived rows of the queued readings may then be derived again: decision 0009)
                self._queue.clear()
            self._forget_boots()
            raise

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
        slices, lasts = tail
        self._stored_until = (outputs, lasts)
        now_ms = int(time.time() * 1000)
        lo = first_ts_ms - RESUME_SPAN_MS  # rows before it were derived, stored or not
        derived: list[dict[str, list[pa.Table]]] = [{} for _ in resumable]
        for telemetry, safety in slices:
            for deriver, tables in zip(resumable, derived, strict=True):
                for name, rows in deriver.process(telemetry, safety, now_ms).items():
                    tables.setdefault(name, []).append(rows)
        for deriver, tables in zip(resumable, derived, strict=True):
            whole = {name: pa.concat_tables(parts) for name, parts in tables.items()}
            self._queue.extend(self._new(deriver, whole, lo))
        release_memory()
        self._released_at = time.monotonic()

    def _new(
        self, deriver: Deriver, tables: dict[str, pa.Table], lo: int | None = None
    ) -> list[tuple[str, pa.Table]]:
        """A deriver's non-empty output without the rows a resumed deriver had already stored."""
        if self._stored_until is not None and isinstance(deriver, Resumable):
            outputs, lasts = self._stored_until
            tables = {
                name: newer_rows(table, outputs[name], lasts[name], lo)
                if name in outputs
                else table
                for name, table in tables.items()
            }
        return [(name, table) for name, table in tables.items() if table.num_rows]

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
            self._queue.extend(self._new(deriver, deriver.flush()))
        self._drain(result)
        self._telemetry_index.save()
        self._safety_index.save()
        return result
