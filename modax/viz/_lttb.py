"""Largest-Triangle-Three-Buckets downsampling (Steinarsson 2013): a numba kernel and its twin.

LTTB keeps the shape of a line — peaks and dips survive — with a fixed number of points, so a
month of 10 Hz readings plots as fast as a minute.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["lttb", "lttb_reference"]


@numba.njit(cache=True)
def _lttb_kernel(x: np.ndarray, y: np.ndarray, n_out: int) -> np.ndarray:
    n = x.shape[0]
    out = np.empty(n_out, dtype=np.int64)
    out[0] = 0
    out[n_out - 1] = n - 1
    every = (n - 2) / (n_out - 2)
    a = 0
    for i in range(n_out - 2):
        start = int(np.floor(i * every)) + 1
        stop = int(np.floor((i + 1) * every)) + 1
        next_stop = min(int(np.floor((i + 2) * every)) + 1, n)
        if i == n_out - 3:
            next_stop = n
        avg_x = 0.0
        avg_y = 0.0
        for j in range(stop, next_stop):
            avg_x += x[j]
            avg_y += y[j]
        count = next_stop - stop
        avg_x /= count
        avg_y /= count
        best = start
        best_area = -1.0
        for j in range(start, stop):
            area = abs((x[a] - avg_x) * (y[j] - y[a]) - (x[a] - x[j]) * (avg_y - y[a]))
            if area > best_area:
                best_area = area
                best = j
        out[i + 1] = best
        a = best
    return out


def lttb_reference(x: np.ndarray, y: np.ndarray, n_out: int) -> np.ndarray:
    """Plain-Python LTTB, the reference the kernel is tested against (same arguments as
    :func:`lttb`, no shortcuts).
    """
    n = len(x)
    every = (n - 2) / (n_out - 2)
    chosen = [0]
    a = 0
    for i in range(n_out - 2):
        start = int(np.floor(i * every)) + 1
        stop = int(np.floor((i + 1) * every)) + 1
        next_stop = n if i == n_out - 3 else min(int(np.floor((i + 2) * every)) + 1, n)
        avg_x = sum(float(v) for v in x[stop:next_stop]) / (next_stop - stop)
        avg_y = sum(float(v) for v in y[stop:next_stop]) / (next_stop - stop)
        areas = [
            abs((x[a] - avg_x) * (y[j] - y[a]) - (x[a] - x[j]) * (avg_y - y[a]))
            for j in range(start, stop)
        ]
        a = start + int(np.argmax(areas))
        chosen.append(a)
    chosen.append(n - 1)
    return np.array(chosen, dtype=np.int64)


def lttb(x: np.ndarray, y: np.ndarray, n_out: int) -> np.ndarray:
    """Indices of at most ``n_out`` points of ``(x, y)`` that keep the line's shape.

    Parameters
    ----------
    x : numpy.ndarray
        Increasing positions (e.g. epoch ms).
    y : numpy.ndarray
        Values; must be finite (drop NaN first).
    n_out : int
        Points wanted (≥ 3); with as many points or fewer, every index is returned.

    Returns
    -------
    numpy.ndarray
        Increasing int64 indices, always including the first and the last point.

    Examples
    --------
    >>> x = np.arange(1000.0)
    >>> y = np.zeros(1000); y[500] = 9.0
    >>> idx = lttb(x, y, 20)
    >>> len(idx), 500 in idx
    (20, True)
    """
    x = np.ascontiguousarray(x, dtype=np.float64)
    y = np.ascontiguousarray(y, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"x and y must be 1-D of one length, got {x.shape} and {y.shape}")
    if n_out < 3:
        raise ValueError(f"n_out must be at least 3, got {n_out}")
    if len(x) <= n_out:
        return np.arange(len(x), dtype=np.int64)
    return _lttb_kernel(x, y, n_out)
