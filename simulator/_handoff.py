"""Hand each chunk of a run to a consumer, optionally on a worker thread.

Storing a chunk (a Delta commit, say) is mostly single-threaded native code that releases the GIL,
and so is the physics kernel; with ``overlap`` the consumer stores chunk *n* on a worker thread
while the caller simulates chunk *n + 1*. At most one chunk waits, so memory stays bounded, the
consumer sees the chunks in order on one thread, and its exceptions reach the caller.

Examples
--------
>>> seen = []
>>> with Handoff(seen.append, overlap=True) as handoff:
...     for chunk in range(3):
...         handoff.put(chunk)
>>> seen
[0, 1, 2]
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Generic, TypeVar

import numba
import numpy as np
from numba import njit, prange

__all__ = ["Handoff", "parallel_kernels_may_overlap"]

T = TypeVar("T")


@njit(cache=True, parallel=True)
def _launch(n: int) -> np.ndarray:
    out = np.empty(n)
    for i in prange(n):
        out[i] = i
    return out


def parallel_kernels_may_overlap() -> bool:
    """Whether two threads may run numba parallel kernels at the same time.

    True for the ``tbb`` and ``omp`` threading layers; ``workqueue`` stops the process when two
    threads launch parallel kernels at once, so overlapping stages must not be used with it.
    """
    _launch(2)  # the threading layer is chosen at the first parallel launch
    return numba.threading_layer() in ("tbb", "omp")


class Handoff(Generic[T]):
    """Call ``consumer`` on every item :meth:`put`, inline or one item behind on a worker thread.

    Parameters
    ----------
    consumer : callable
        Called once per item, in order, always from the same thread.
    overlap : bool
        Run ``consumer`` on a worker thread, concurrently with the caller's next item.
    """

    def __init__(self, consumer: Callable[[T], object], overlap: bool = False) -> None:
        self.consumer = consumer
        self._pool = ThreadPoolExecutor(1, "simulator-handoff") if overlap else None
        self._pending: Future | None = None

    def put(self, item: T) -> None:
        """Hand ``item`` over (waiting for the previous one first when overlapping)."""
        if self._pool is None:
            self.consumer(item)
            return
        self._wait()
        self._pending = self._pool.submit(self.consumer, item)

    def _wait(self) -> None:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending.result()

    def __enter__(self) -> Handoff[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if exc[0] is None:
                self._wait()
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True, cancel_futures=True)
