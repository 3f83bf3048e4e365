"""The bounded micro-batching inbox and the reconnect backoff (no broker needed)."""

from __future__ import annotations

import random
import threading
import time

import pytest

from modax.ingest import Backoff, Inbox
from modax.testing import wait_for


def fill(inbox: Inbox, n: int, size: int = 1, start: int = 0) -> None:
    for i in range(start, start + n):
        inbox.put("t", b"x" * size, 1_700_000_000_000 + i, mid=i + 1, qos=1, generation=0)


def test_a_batch_is_ready_at_batch_size_in_arrival_order():
    inbox = Inbox(batch_size=3, batch_s=60.0, max_messages=10)
    fill(inbox, 5)
    batch = inbox.take(timeout_s=5)
    assert batch.mids == [1, 2, 3]
    assert batch.received_ms == [1_700_000_000_000, 1_700_000_000_001, 1_700_000_000_002]
    assert len(inbox) == 2


def test_a_partial_batch_is_ready_once_the_oldest_waited_batch_s():
    inbox = Inbox(batch_size=100, batch_s=0.05, max_messages=100)
    fill(inbox, 2)
    start = time.monotonic()
    batch = inbox.take(timeout_s=5)
    assert len(batch) == 2
    assert 0.02 <= time.monotonic() - start < 2


def test_take_returns_empty_after_its_timeout_when_nothing_waits():
    assert len(Inbox(batch_size=1, batch_s=0.01).take(timeout_s=0.05)) == 0


@pytest.mark.parametrize(("count", "size", "limits"), [(4, 1, {}), (2, 600, {"max_bytes": 1_000})])
def test_put_blocks_when_full_until_a_batch_is_taken(count, size, limits):
    inbox = Inbox(batch_size=2, batch_s=60.0, max_messages=4, **limits)
    fill(inbox, count, size)
    producer = threading.Thread(target=fill, args=(inbox, 1, size, count))
    producer.start()
    producer.join(timeout=0.2)
    assert producer.is_alive()  # blocked: back-pressure
    assert len(inbox) == count
    inbox.take(timeout_s=5)
    wait_for(lambda: not producer.is_alive(), 5, "the blocked put to finish")
    assert inbox.high_water == count
    message = size + len("t")  # the topic counts too
    assert inbox.high_water_bytes <= max(count * message, limits.get("max_bytes", 0) + message)


def test_close_releases_a_blocked_producer_and_returns_what_waits():
    inbox = Inbox(batch_size=1, batch_s=60.0, max_messages=1)
    fill(inbox, 1)
    producer = threading.Thread(target=fill, args=(inbox, 1, 1, 1))
    producer.start()
    inbox.close()
    wait_for(lambda: not producer.is_alive(), 5, "the producer to return")
    assert len(inbox.take()) == 1
    assert len(inbox.take()) == 1
    assert len(inbox.take()) == 0


def test_invalid_bounds_are_refused():
    with pytest.raises(ValueError, match="batch_size"):
        Inbox(batch_size=10, max_messages=5)


def test_backoff_doubles_to_its_cap_with_jitter_and_resets():
    backoff = Backoff(0.5, 4.0, rng=random.Random(7))
    delays = [backoff.next() for _ in range(8)]
    caps = [0.5, 1.0, 2.0, 4.0, 4.0, 4.0, 4.0, 4.0]
    assert all(cap / 2 <= d <= cap for d, cap in zip(delays, caps, strict=True))
    assert len({round(d, 6) for d in delays[3:]}) > 1  # jittered, not lockstep
    backoff.reset()
    assert backoff.next() <= 0.5
    with pytest.raises(ValueError, match="initial_s"):
        Backoff(0, 1)


def test_long_topics_count_towards_the_byte_bound():
    """3,000 messages with a 60 KB topic level must not all wait (issue 17 item 10)."""
    inbox = Inbox(batch_size=10_000, batch_s=60.0, max_messages=10_000, max_bytes=1 << 20)
    topic = f"modax/devices/{'x' * 60_000}/telemetry"
    putter = threading.Thread(
        target=lambda: [
            inbox.put(topic, b"{}", 1_700_000_000_000, mid=i + 1, qos=1, generation=0)
            for i in range(3_000)
        ],
        daemon=True,
    )
    putter.start()
    wait_for(lambda: inbox.nbytes >= 1 << 20, 5, "the byte bound to be reached")
    assert len(inbox) <= (1 << 20) // 60_000 + 1
    batch = inbox.take(timeout_s=5)
    assert batch.nbytes == sum(map(len, batch.topics)) + sum(map(len, batch.payloads))
    inbox.close()
    putter.join(5)
