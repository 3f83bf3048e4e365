"""Streaming components fed in any split give what one piece gives (the shared check).

The window aggregator, the safety checker and the stress windows are held to it next to their
reference twins (tests/test_kernels_aggregate.py, test_kernels_safety.py,
test_models_wear_live.py); here are the online detector, the identity set, the boot clock and
the rolling window, and a check that the shared check itself can fail.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from streaming import assert_split_equals_one_piece

from modax.kernels.aggregate import Rolling
from modax.models.anomaly import StreamingDetector
from modax.pipeline._clock import BootClock
from modax.pipeline._identities import TIMESTAMP_TAG, IdentitySet

T0 = 1_763_900_000_000
TRAIN = np.random.default_rng(0).normal(size=(300, 2))
PROBE = np.random.default_rng(1).normal(size=(40, 2)) + np.array([0.0, 1.0])


def test_the_check_fails_for_a_component_that_forgets_between_batches():
    # a running total that starts again at every batch: right in one piece, wrong when cut
    values = np.arange(1, 30)

    @settings(max_examples=50, database=None)
    @given(data=st.data())
    def forgetful(data: st.DataObject) -> None:
        assert_split_equals_one_piece(
            lambda: None,
            lambda _, batch: np.cumsum(batch),
            lambda _, outputs: np.concatenate(outputs),
            lambda lo, hi: values[lo:hi],
            len(values),
            data,
        )

    with pytest.raises(AssertionError):
        forgetful()


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    n=st.integers(1, 150),
    shift_at=st.integers(0, 150),
    data=st.data(),
)
def test_streaming_detector_learns_the_same_in_any_split(seed, n, shift_at, data):
    rows = np.random.default_rng(seed).normal(size=(n, 2))
    rows[shift_at:, 1] += 6.0  # a fault: the baseline stops learning while it alarms

    def finish(detector: StreamingDetector, _: list) -> tuple[np.ndarray, ...]:
        state = detector.state_
        return state.level, state.mean, state.var, detector.score_samples(PROBE)

    assert_split_equals_one_piece(
        lambda: StreamingDetector(window=5.0, memory=50.0, threshold=3.0, min_duration=1).fit(
            TRAIN
        ),
        lambda detector, batch: detector.partial_fit(batch),
        finish,
        lambda lo, hi: rows[lo:hi],
        n,
        data,
        empty_batches=False,  # partial_fit names an empty X as bad input
    )


edges = [0, 1, 2**63 - 1, int(TIMESTAMP_TAG), 2**64 - 2, 2**64 - 1]
pairs = st.lists(
    st.tuples(st.integers(0, 4), st.one_of(st.integers(0, 40), st.sampled_from(edges))),
    max_size=120,
)


@settings(max_examples=150, deadline=None)
@given(stream=pairs, data=st.data())
def test_identity_set_holds_the_same_intervals_in_any_split(stream, data):
    devices = np.array([d for d, _ in stream], np.int64)
    values = np.array([v for _, v in stream], np.uint64)
    probe = sorted({(d, v) for d in range(6) for v in [*range(42), *edges]})
    probe_devices = np.array([d for d, _ in probe], np.int64)
    probe_values = np.array([v for _, v in probe], np.uint64)

    def finish(ids: IdentitySet, _: list) -> tuple:
        return len(ids), ids.nbytes, ids.contains(probe_devices, probe_values)

    *_, found = assert_split_equals_one_piece(
        IdentitySet,
        lambda ids, batch: ids.add(*batch),
        finish,
        lambda lo, hi: (devices[lo:hi], values[lo:hi]),
        len(stream),
        data,
    )
    assert found.tolist() == [p in set(stream) for p in probe]


readings = st.lists(
    st.tuples(
        st.integers(0, 2),  # device
        st.integers(0, 2_000),  # ms since the previous message of any device (receive clock)
        st.integers(-4_000, 3_000),  # step of the device's own clock: below -1 000 is a reboot
        st.booleans(),  # an NTP-synced epoch timestamp instead of ms since boot
    ),
    max_size=120,
)


@settings(max_examples=150, deadline=None)
@given(stream=readings, data=st.data())
def test_boot_clock_anchors_the_same_in_any_split(stream, data):
    received, timestamps, clocks, now = [], [], [0, 0, 0], T0
    for device, gap, step, synced in stream:
        now += gap
        clocks[device] = max(0, clocks[device] + step)
        received.append(now)
        timestamps.append(now - 7 if synced else clocks[device])
    device_ids = pa.array([f"m{d}" for d, *_ in stream], pa.string())
    raw = pa.array(timestamps, pa.int64())
    at = pa.array(received, pa.int64())

    def event_ms(clock: BootClock, batch: tuple[pa.Array, ...]) -> np.ndarray:
        return pc.cast(clock.event_time(*batch), pa.int64()).to_numpy(zero_copy_only=False)

    times = assert_split_equals_one_piece(
        BootClock,
        event_ms,
        lambda _, outputs: np.concatenate([np.zeros(0, np.int64), *outputs]),
        lambda lo, hi: (device_ids[lo:hi], raw[lo:hi], at[lo:hi]),
        len(stream),
        data,
    )
    synced = np.array([s for *_, s in stream], np.bool_)
    assert (times[synced] == np.array(timestamps, np.int64)[synced]).all()


@settings(max_examples=100, deadline=None)
@given(
    stream=st.lists(st.tuples(st.integers(0, 3), st.floats(-1e3, 1e3)), max_size=150),
    window=st.integers(1, 6),
    data=st.data(),
)
def test_rolling_window_carries_across_any_split(stream, window, data):
    codes = np.array([d for d, _ in stream], np.int64)
    values = np.array([v for _, v in stream], np.float64)
    assert_split_equals_one_piece(
        lambda: Rolling(window),
        lambda rolling, batch: rolling.process(*batch),
        lambda _, outputs: tuple(
            np.concatenate([np.zeros(0), *(out[k] for out in outputs)]) for k in range(2)
        ),
        lambda lo, hi: (codes[lo:hi], values[lo:hi]),
        len(stream),
        data,
    )
