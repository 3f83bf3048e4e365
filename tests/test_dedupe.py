"""The dedupe index's key store: sorted unique keys per date, merged in linear time."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from modax.dedupe import _merged

keys = st.lists(st.integers(0, 2**64 - 1), max_size=200).map(lambda k: np.array(k, np.uint64))


@given(stored=keys, new=keys)
def test_merging_new_keys_gives_the_sorted_union(stored, new):
    stored = np.unique(stored)
    merged = _merged(stored, new)
    np.testing.assert_array_equal(merged, np.union1d(stored, new))
    assert merged.dtype == np.uint64
