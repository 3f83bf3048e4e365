"""What the kernel benchmarks share: the fleet's reading times and best-of-N timing.

Imported by ``bench/aggregate.py`` and ``bench/safety.py`` (not a benchmark itself).
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

import numpy as np

#: Epoch ms of the first 100 ms period.
T0 = 1_763_900_000_000
#: Every device reports once per period, in ms (10 Hz).
PERIOD_MS = 100


def device_phases(rng: np.random.Generator, devices: int) -> tuple[np.ndarray, np.ndarray]:
    """When each device reports within a period: device ``order[k]`` at ``phase[k]`` ms.

    ``phase`` is sorted (int64 ms), ``order`` a permutation of the device codes (int32).
    """
    phase = np.sort(rng.integers(0, PERIOD_MS, devices))
    order = rng.permutation(devices).astype(np.int32)
    return phase, order


def arrival_order(phase: np.ndarray, order: np.ndarray, per: int) -> tuple[np.ndarray, np.ndarray]:
    """Device codes and epoch-ms times of ``per`` readings per device as they arrive.

    Time-ordered with the devices interleaved, as live ingestion sees them.
    """
    codes = np.tile(order, per)
    periods = np.arange(per, dtype=np.int64) * PERIOD_MS
    ts = T0 + np.repeat(periods, order.size) + np.tile(phase, per)
    return codes, ts


def best_of(repeat: int, run: Callable[[], object]) -> tuple[float, object]:
    """The fastest of ``repeat`` runs in s, and its result.

    Before each run the previous result is dropped and the garbage collected: every run starts
    with the memory of the one before it free, as a long-running process would.
    """
    best, result = float("inf"), None
    for _ in range(repeat):
        result = None
        gc.collect()
        start = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - start)
    return best, result
