"""Message identities per device as intervals: exact membership, memory that follows the gaps."""

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from modax.pipeline._identities import (
    TIMESTAMP_TAG,
    IdentitySet,
    _contains,
    _merge,
    read_identities,
    write_identities,
)

edges = [0, 1, 2**63 - 1, int(TIMESTAMP_TAG), 2**64 - 2, 2**64 - 1]
values = st.one_of(st.integers(0, 40), st.sampled_from(edges))
batches = st.lists(st.lists(st.tuples(st.integers(0, 4), values), max_size=30), max_size=6)


def runs(pairs: set[tuple[int, int]]) -> int:
    """How many maximal runs of consecutive values the set holds, per device."""
    return sum((d, v - 1) not in pairs or v == 0 for d, v in pairs)


@settings(max_examples=200, deadline=None)
@given(batches=batches)
def test_membership_equals_a_set_and_intervals_are_the_runs(batches):
    ids, model = IdentitySet(), set()
    for batch in batches:
        devices = np.array([d for d, _ in batch], np.int64)
        ids.add(devices, np.array([v for _, v in batch], np.uint64))
        model.update(batch)
        probe = sorted({(d, v) for d in range(6) for v in [*range(42), *edges]})
        got = ids.contains(
            np.array([d for d, _ in probe]), np.array([v for _, v in probe], np.uint64)
        )
        assert got.tolist() == [p in model for p in probe]
        assert len(ids) == runs(model)  # adjacent values joined: one interval per run


@settings(max_examples=50, deadline=None)
@given(old=batches, new=st.lists(st.tuples(st.integers(0, 6), values), max_size=30))
def test_kernels_equal_their_python_twins(old, new):
    ids = IdentitySet()
    for batch in old:
        ids.add(
            np.array([d for d, _ in batch], np.int64), np.array([v for _, v in batch], np.uint64)
        )
    pairs = sorted(set(new))
    devices = np.array([d for d, _ in pairs], np.int64)
    vals = np.array([v for _, v in pairs], np.uint64)
    n_dev = max(len(ids._ptr) - 1, int(devices.max()) + 1 if pairs else 0)
    size = len(ids) + len(pairs)
    outs = []
    for merge in (_merge, _merge.py_func):
        arrays = (
            np.empty(n_dev + 1, np.int64),
            np.empty(size, np.uint64),
            np.empty(size, np.uint64),
        )
        count = merge(ids._ptr, ids._lo, ids._hi, devices, vals, n_dev, *arrays)
        outs.append((arrays[0], arrays[1][:count], arrays[2][:count]))
    for a, b in zip(*outs, strict=True):
        np.testing.assert_array_equal(a, b)
    found = [np.empty(len(pairs), np.bool_) for _ in range(2)]
    for contains, out in zip((_contains, _contains.py_func), found, strict=True):
        contains(ids._ptr, ids._lo, ids._hi, devices, vals, out)
    np.testing.assert_array_equal(*found)


def test_a_day_of_consecutive_sequence_numbers_is_one_interval_per_device():
    ids = IdentitySet()
    seq = np.arange(2**32, 2**32 + 864_000, dtype=np.uint64)  # a day at 10 Hz, boot 1
    for chunk in np.array_split(seq, 50):  # committed batch by batch
        ids.add(np.zeros(len(chunk), np.int64), chunk)
    ids.add(np.ones(3, np.int64), np.array([1, 2, 9], np.uint64))
    assert len(ids) == 1 + 2 and ids.nbytes < 100
    assert ids.contains(
        np.array([0, 0, 1]), np.array([2**32 + 5, 2**32 - 1, 3], np.uint64)
    ).tolist() == [
        True,
        False,
        False,
    ]


@settings(max_examples=100, deadline=None)
@given(batches=batches, more=st.lists(st.tuples(st.integers(0, 6), values), max_size=30))
def test_a_set_saved_and_read_back_is_the_same_set(batches, more):
    ids = IdentitySet()
    for batch in batches:
        ids.add(
            np.array([d for d, _ in batch], np.int64), np.array([v for _, v in batch], np.uint64)
        )
    names = pa.array([f"m{d}" for d in range(5)])
    sink = pa.BufferOutputStream()
    write_identities(sink, names, ids, version=3)
    read_names, codes, lo, hi, version = read_identities(pa.BufferReader(sink.getvalue()))
    back = IdentitySet.from_intervals(codes, lo, hi)
    assert version == 3
    assert read_names.to_pylist() == (names.to_pylist() if len(ids) else [])
    assert [a.tolist() for a in back.intervals()] == [a.tolist() for a in ids.intervals()]
    devices = np.array([d for d, _ in more], np.int64)
    probe = np.array([v for _, v in more], np.uint64)
    assert back.contains(devices, probe).tolist() == ids.contains(devices, probe).tolist()
    back.add(devices, probe)  # and it takes new identities like the original
    ids.add(devices, probe)
    assert [a.tolist() for a in back.intervals()] == [a.tolist() for a in ids.intervals()]
