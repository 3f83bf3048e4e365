"""The bounded hand-over from the MQTT network thread to the batch worker.

Messages are appended to parallel lists (no per-message object is kept); :meth:`Inbox.take`
returns a micro-batch when ``batch_size`` messages wait or the oldest has waited ``batch_s``
seconds. :meth:`Inbox.put` blocks while the inbox holds ``max_messages`` messages or
``max_bytes`` bytes of topics and payloads: the network thread stops reading, TCP pushes back,
and the broker keeps the rest queued for the session — back-pressure instead of unbounded memory.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

__all__ = ["Batch", "Inbox"]


@dataclass
class Batch:
    """Messages taken together from the inbox, in arrival order.

    Attributes
    ----------
    topics, payloads : list
        Topic and raw payload of each message.
    received_ms : list of int
        Receive time of each message, epoch ms (UTC).
    mids, qos, generations : list of int
        MQTT packet id, QoS and connection generation of each (to acknowledge it later).
    """

    topics: list[str] = field(default_factory=list)
    payloads: list[bytes] = field(default_factory=list)
    received_ms: list[int] = field(default_factory=list)
    mids: list[int] = field(default_factory=list)
    qos: list[int] = field(default_factory=list)
    generations: list[int] = field(default_factory=list)
    nbytes: int = 0

    def __len__(self) -> int:
        return len(self.topics)


class Inbox:
    """A bounded micro-batching queue between one producer thread and one consumer thread.

    Parameters
    ----------
    batch_size : int
        A batch is ready when this many messages wait.
    batch_s : float
        ... or when the oldest waiting message arrived this many seconds ago.
    max_messages, max_bytes : int
        Bounds of what may wait; :meth:`put` blocks beyond them (one message may take the byte
        count past ``max_bytes``).

    Attributes
    ----------
    high_water, high_water_bytes : int
        The most messages and bytes (topics and payloads) that ever waited at once.

    Examples
    --------
    >>> inbox = Inbox(batch_size=2, batch_s=10.0)
    >>> inbox.put("t", b"a", 1, mid=1, qos=1, generation=0)
    >>> inbox.put("t", b"b", 2, mid=2, qos=1, generation=0)
    >>> inbox.take(timeout_s=0).payloads
    [b'a', b'b']
    """

    def __init__(
        self,
        batch_size: int = 5_000,
        batch_s: float = 0.2,
        max_messages: int = 50_000,
        max_bytes: int = 64 * 1024 * 1024,
    ) -> None:
        if batch_size < 1 or max_messages < batch_size:
            raise ValueError(
                f"need 1 <= batch_size <= max_messages, got {batch_size}, {max_messages}"
            )
        self.batch_size = batch_size
        self.batch_s = batch_s
        self.max_messages = max_messages
        self.max_bytes = max_bytes
        self._batch = Batch()
        self._oldest = 0.0
        self._closed = False
        self.high_water = 0
        self.high_water_bytes = 0
        self._lock = threading.Lock()
        self._ready = threading.Condition(self._lock)
        self._room = threading.Condition(self._lock)

    def __len__(self) -> int:
        return len(self._batch)

    @property
    def nbytes(self) -> int:
        """Bytes of topics and payloads waiting (a topic counts one byte per character)."""
        return self._batch.nbytes

    def put(
        self, topic: str, payload: bytes, received_ms: int, *, mid: int, qos: int, generation: int
    ) -> None:
        """Add one message, blocking while the inbox is full (returns at once once closed)."""
        with self._lock:
            while self._full() and not self._closed:
                self._ready.notify()
                self._room.wait()
            b = self._batch
            if not b.topics:
                self._oldest = time.monotonic()
            b.topics.append(topic)
            b.payloads.append(payload)
            b.received_ms.append(received_ms)
            b.mids.append(mid)
            b.qos.append(qos)
            b.generations.append(generation)
            b.nbytes += len(topic) + len(payload)
            n = len(b.topics)
            self.high_water = max(self.high_water, n)
            self.high_water_bytes = max(self.high_water_bytes, b.nbytes)
            if n == self.batch_size:
                self._ready.notify()

    def _full(self) -> bool:
        b = self._batch
        return len(b.topics) >= self.max_messages or (bool(b.topics) and b.nbytes >= self.max_bytes)

    def take(self, timeout_s: float | None = None) -> Batch:
        """Wait for a ready batch (at most ``timeout_s`` s); up to ``batch_size`` messages.

        Returns whatever waits (possibly nothing) when the timeout passes or the inbox is closed.
        """
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        with self._lock:
            while not self._closed:
                n = len(self._batch.topics)
                now = time.monotonic()
                if (
                    n >= self.batch_size
                    or (n and now - self._oldest >= self.batch_s)
                    or self._full()
                ):
                    break
                wait = self.batch_s - (now - self._oldest) if n else self.batch_s
                if deadline is not None:
                    if now >= deadline:
                        break
                    wait = min(wait, deadline - now)
                self._ready.wait(wait)
            return self._split()

    def _split(self) -> Batch:
        b, k = self._batch, self.batch_size
        if len(b.topics) <= k:
            self._batch = Batch()
            self._room.notify_all()
            return b
        taken = Batch(
            b.topics[:k],
            b.payloads[:k],
            b.received_ms[:k],
            b.mids[:k],
            b.qos[:k],
            b.generations[:k],
        )
        taken.nbytes = sum(map(len, taken.topics)) + sum(map(len, taken.payloads))
        self._batch = Batch(
            b.topics[k:],
            b.payloads[k:],
            b.received_ms[k:],
            b.mids[k:],
            b.qos[k:],
            b.generations[k:],
        )
        self._batch.nbytes = b.nbytes - taken.nbytes
        self._room.notify_all()
        return taken

    def close(self) -> None:
        """Wake every waiter: :meth:`put` no longer blocks and :meth:`take` returns at once."""
        with self._lock:
            self._closed = True
            self._ready.notify_all()
            self._room.notify_all()
