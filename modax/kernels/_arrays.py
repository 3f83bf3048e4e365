"""Array helpers shared by the kernels."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa

__all__ = ["pooled", "readonly"]


def pooled(shape: tuple[int, ...], dtype: type | np.dtype) -> np.ndarray:
    """An uninitialised C-contiguous array in Arrow's memory pool, for a kernel's outputs.

    Arrow's allocator (mimalloc) keeps freed memory and hands it out again; ``np.empty`` of a
    large array gets fresh pages from the OS every time, which the kernel then faults in and
    the OS zeroes (in a VM, fresh memory costs milliseconds per MB). The tables made from the
    array hold its buffer as long as they need it.

    Examples
    --------
    >>> out = pooled((2, 3), np.float64)
    >>> out.shape, out.flags.c_contiguous, out.flags.writeable
    ((2, 3), True, True)
    """
    itemsize = np.dtype(dtype).itemsize
    buffer = pa.allocate_buffer(max(math.prod(shape) * itemsize, 1))
    return np.frombuffer(buffer, dtype, count=math.prod(shape)).reshape(shape)


def readonly(array: np.ndarray) -> np.ndarray:
    """A read-only view, so Arrow-backed and numpy arrays give a kernel one tuple type.

    Examples
    --------
    >>> readonly(np.zeros(2)).flags.writeable
    False
    """
    view = array.view()
    view.flags.writeable = False
    return view
