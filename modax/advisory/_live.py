"""``modax advise``: subscribe to telemetry, score it, store ``scores``, publish advice."""

from __future__ import annotations

import queue
import threading
import time
import uuid
from dataclasses import dataclass

import paho.mqtt.client as mqtt
from paho.mqtt.reasoncodes import ReasonCode

from modax.advisory._advisor import Advisor
from modax.lake import Lake
from modax.mqtt import ClientFactory
from modax.schema import decode_batch

__all__ = ["TELEMETRY_FILTER", "LiveStats", "run_live"]

TELEMETRY_FILTER = "modax/devices/+/telemetry"


@dataclass
class LiveStats:
    """What a live run did."""

    messages: int = 0
    scored: int = 0
    alarms: int = 0
    alerts: int = 0
    batches: int = 0


def run_live(
    advisor: Advisor,
    factory: ClientFactory,
    lake: Lake,
    *,
    batch_s: float = 1.0,
    duration_s: float | None = None,
    stop: threading.Event | None = None,
    ready: threading.Event | None = None,
) -> LiveStats:
    """Score live telemetry until ``stop`` is set or ``duration_s`` passes.

    Subscribes (QoS 1) to every device's telemetry, and every ``batch_s`` seconds decodes
    what arrived, scores it with ``advisor``, appends the rows to the lake's ``scores`` table
    and publishes the advisor's alerts on the same connection. Invalid messages are left to
    the ingester, which quarantines them. ``ready`` is set once the broker has granted the
    subscription, so telemetry published after it reaches the advisor.

    Raises
    ------
    ConnectionError
        When the broker cannot be reached or refuses the connection.
    """
    inbox: queue.SimpleQueue[tuple[str, bytes, int]] = queue.SimpleQueue()
    subscribed = threading.Event()
    client = factory(f"modax-advise-{uuid.uuid4().hex[:8]}")

    def on_connect(
        client: mqtt.Client, userdata: object, flags: object, reason: ReasonCode, props: object
    ) -> None:
        if not reason.is_failure:
            client.subscribe(TELEMETRY_FILTER, qos=1)

    def on_subscribe(
        client: mqtt.Client, userdata: object, mid: int, reasons: list[ReasonCode], props: object
    ) -> None:
        if not any(r.is_failure for r in reasons):
            subscribed.set()  # from now on the broker routes telemetry to us

    def on_message(client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        inbox.put((message.topic, bytes(message.payload), int(time.time() * 1000)))

    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    try:
        factory.connect(client)
    except OSError as exc:
        raise ConnectionError(f"cannot reach the broker at {factory.broker}: {exc}") from None
    advisor.publish = lambda topic, payload: client.publish(topic, payload, qos=1)
    stats = LiveStats()
    stop = stop or threading.Event()
    deadline = None if duration_s is None else time.monotonic() + duration_s
    client.loop_start()
    try:
        if not subscribed.wait(10.0):
            raise ConnectionError(
                f"the broker at {factory.broker} did not accept the connection and subscription"
            )
        if ready is not None:
            ready.set()
        while not stop.is_set() and (deadline is None or time.monotonic() < deadline):
            stop.wait(batch_s)
            _drain(inbox, advisor, lake, stats)
        _drain(inbox, advisor, lake, stats)
    finally:
        client.loop_stop()
        client.disconnect()
    stats.alerts = advisor.alerts_sent
    return stats


def _drain(
    inbox: queue.SimpleQueue[tuple[str, bytes, int]], advisor: Advisor, lake: Lake, stats: LiveStats
) -> None:
    messages = []
    while True:
        try:
            messages.append(inbox.get_nowait())
        except queue.Empty:
            break
    if not messages:
        return
    topics, payloads, received = zip(*messages, strict=True)
    telemetry = decode_batch(list(topics), list(payloads), list(received)).telemetry
    scores = advisor.score(telemetry)
    if scores.num_rows:
        lake.append("scores", scores)
    stats.messages += len(messages)
    stats.scored += scores.num_rows
    stats.alarms += sum(scores["alarm"].to_pylist())
    stats.batches += 1
