"""Array helpers shared by the kernels."""

from __future__ import annotations

import numpy as np

__all__ = ["readonly"]


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
