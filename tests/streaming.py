"""The one check every streaming component shares: a stream fed in any split gives what one piece
gives.

A streaming component carries state from batch to batch (open windows, safety states, baselines,
boot anchors, identities), so how the stream happens to be cut into batches must not change its
results. :func:`assert_split_equals_one_piece` feeds one stream to a fresh component in one piece
and to another in batches whose boundaries hypothesis draws (any cuts, empty batches included,
or one row per batch as live ingestion sees it), and holds the two results equal.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
from hypothesis import strategies as st

__all__ = ["assert_same", "assert_split_equals_one_piece", "batch_bounds"]

Component = TypeVar("Component")
Batch = TypeVar("Batch")
Output = TypeVar("Output")
Result = TypeVar("Result")


def batch_bounds(
    n: int, empty_batches: bool = True, max_batches: int = 200
) -> st.SearchStrategy[list[int]]:
    """Batch boundaries ``0 = b₀ ≤ b₁ ≤ … ≤ n`` of a stream of ``n`` rows.

    Any cuts (repeated cuts make empty batches when ``empty_batches``), or batches of one size:
    one row each when the stream has at most ``max_batches`` rows (live ingestion's case).
    """
    cuts = st.lists(st.integers(0, n), max_size=8)
    smallest = max(1, -(-n // max_batches))
    sizes = st.integers(smallest, max(smallest, n)).map(lambda k: list(range(k, n, k)))
    inner = st.one_of(cuts, sizes)
    if empty_batches:
        return inner.map(lambda c: [0, *sorted(c), n])
    return inner.map(lambda c: [0, *sorted({x for x in c if 0 < x < n}), n])


def assert_same(got: Any, want: Any) -> None:
    """Exact equality of results: frames, Arrow tables, arrays, and tuples or lists of them.

    NaN equals NaN where both hold it; floats must match bit for bit.
    """
    if isinstance(want, pd.DataFrame):
        pd.testing.assert_frame_equal(got, want, check_exact=True)
    elif isinstance(want, pa.Table):
        assert got.schema == want.schema
        assert_same(got.to_pandas(), want.to_pandas())
    elif isinstance(want, np.ndarray):
        np.testing.assert_array_equal(got, want, strict=True)
    elif isinstance(want, tuple | list):
        assert type(got) is type(want) and len(got) == len(want)
        for g, w in zip(got, want, strict=True):
            assert_same(g, w)
    else:
        assert got == want


def assert_split_equals_one_piece(
    make: Callable[[], Component],
    feed: Callable[[Component, Batch], Output],
    finish: Callable[[Component, list[Output]], Result],
    pieces: Callable[[int, int], Batch],
    n: int,
    data: st.DataObject,
    *,
    same: Callable[[Result, Result], None] = assert_same,
    empty_batches: bool = True,
    max_batches: int = 200,
) -> Result:
    """Feed rows ``0..n`` in one piece and in a drawn split; assert both give the same result.

    Parameters
    ----------
    make : callable
        A fresh component (with any history it starts from, e.g. a fitted model).
    feed : callable
        Hands one batch to the component; returns what the component gives back for it.
    finish : callable
        The end of the stream: from the component and the outputs of every batch in order, the
        result to compare (flush the component here, if it holds open state).
    pieces : callable
        ``pieces(lo, hi)`` is rows ``lo..hi`` of the stream as one batch.
    n : int
        Rows in the stream.
    data : hypothesis DataObject
        Draws the batch boundaries (:func:`batch_bounds`).
    same : callable
        Asserts the split result equals the one-piece result (default: exact, :func:`assert_same`).
    empty_batches : bool
        Whether batches may be empty (components that refuse an empty batch: False).
    max_batches : int
        Most batches of one size the split may have (bounds the cost on long streams).

    Returns
    -------
    The one-piece result, for the caller to check against a reference.
    """
    whole_component = make()
    whole = finish(whole_component, [feed(whole_component, pieces(0, n))])
    bounds: Sequence[int] = data.draw(
        batch_bounds(n, empty_batches, max_batches), label="batch bounds"
    )
    split_component = make()
    outputs = [feed(split_component, pieces(lo, hi)) for lo, hi in itertools.pairwise(bounds)]
    same(finish(split_component, outputs), whole)
    return whole
