"""The advisor's lake writes on their own thread, so a slow lake never delays the advice."""

from __future__ import annotations

import logging
import queue
import threading
import time

import pyarrow as pa

from modax.ingest import Backoff
from modax.lake import Lake

__all__ = ["LakeWriter"]

log = logging.getLogger("modax.advise")


class LakeWriter:
    """Appends tables to the lake from a background thread, in order, losing no row.

    :meth:`put` hands rows over and returns at once while fewer than ``max_pending`` tables
    wait; beyond that it blocks until the writer catches up (back-pressure, never a dropped
    row). The thread appends whatever waits for a table in one commit, so a lake slower than
    the batches takes fewer, larger commits. A failed append is retried with backoff, the
    same rows again (at-least-once). :meth:`close` writes everything still queued and stops.

    Parameters
    ----------
    lake : Lake
        Where the rows go.
    max_pending : int
        Tables that may wait before :meth:`put` blocks.
    retry_initial_s, retry_max_s : float
        Backoff between attempts of a failed append, s.
    close_attempts : int
        Once closing, attempts of an append before its rows are given up (counted in
        :attr:`lost`, named by :attr:`error` and by :meth:`close`), so a lake that refuses the
        rows for good cannot keep the process from stopping.

    Attributes
    ----------
    rows_written : dict
        Rows appended per table so far.
    commits : int
        Lake commits made.
    lost : dict
        Rows given up per table (only ever while closing).

    Examples
    --------
    >>> import tempfile
    >>> from datetime import UTC, datetime
    >>> writer = LakeWriter(Lake(tempfile.mkdtemp()))
    >>> ts = pa.array([datetime(2026, 1, 1, tzinfo=UTC)], pa.timestamp("ms", tz="UTC"))
    >>> writer.put("notes", pa.table({"device_id": ["m1"], "ts": ts}))
    >>> writer.close()
    >>> writer.rows_written
    {'notes': 1}
    """

    def __init__(
        self,
        lake: Lake,
        max_pending: int = 64,
        retry_initial_s: float = 0.5,
        retry_max_s: float = 10.0,
        close_attempts: int = 3,
    ) -> None:
        if max_pending < 1:
            raise ValueError(f"max_pending: need at least 1 table, got {max_pending}")
        self.lake = lake
        self.max_pending = max_pending
        self.close_attempts = close_attempts
        self.rows_written: dict[str, int] = {}
        self.lost: dict[str, int] = {}
        self.error = ""
        self.commits = 0
        self._queue: queue.Queue[tuple[str, pa.Table] | None] = queue.Queue(max_pending)
        self._backoff = Backoff(retry_initial_s, retry_max_s)
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._run, name="modax-advise-lake", daemon=True)
        self._thread.start()

    def put(self, name: str, table: pa.Table) -> None:
        """Queue ``table``'s rows for table ``name`` (blocks while ``max_pending`` wait)."""
        if self._closing.is_set():
            raise RuntimeError(f"lake writer of {self.lake.root} is closed: {name!r} not queued")
        if table.num_rows:
            self._queue.put((name, table))

    @property
    def pending(self) -> int:
        """Tables queued and not yet taken by the writer thread."""
        return self._queue.qsize()

    def close(self) -> None:
        """Write every queued row, then stop the thread.

        Raises
        ------
        RuntimeError
            When rows could not be written (:attr:`lost`), naming the table and the reason.
        """
        if not self._closing.is_set():
            self._closing.set()
            self._queue.put(None)
        self._thread.join()
        if self.lost:
            raise RuntimeError(f"lake writer of {self.lake.root}: {self.error}")

    def _run(self) -> None:
        done = False
        while not done:
            items = [self._queue.get()]
            while True:
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            done = None in items
            tables: dict[str, list[pa.Table]] = {}
            for item in items:
                if item is not None:
                    tables.setdefault(item[0], []).append(item[1])
            for name, parts in tables.items():
                self._append(name, pa.concat_tables(parts))

    def _append(self, name: str, table: pa.Table) -> None:
        attempts = 0
        while True:
            attempts += 1
            try:
                self.lake.append(name, table)
            except Exception as exc:  # (any storage failure: the rows stay and are retried)
                if self._closing.is_set() and attempts >= self.close_attempts:
                    self.lost[name] = self.lost.get(name, 0) + table.num_rows
                    self.error = f"{table.num_rows} rows for {name!r} not written: {exc}"
                    log.error("advisor: %s", self.error)
                    return
                delay = self._backoff.next()
                log.error(
                    "advisor: appending %d rows to %r failed (%s); retry in %.1f s",
                    table.num_rows,
                    name,
                    exc,
                    delay,
                )
                time.sleep(delay)
                continue
            self._backoff.reset()
            self.commits += 1
            self.rows_written[name] = self.rows_written.get(name, 0) + table.num_rows
            return
