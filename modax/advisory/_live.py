"""``modax advise run``: subscribe to telemetry, score it, store it, publish advice and updates."""

from __future__ import annotations

import gc
import logging
import queue
import threading
import time
import uuid
from dataclasses import dataclass

import msgspec
import paho.mqtt.client as mqtt
import pyarrow as pa

from modax.advisory._advisor import Advisor, Publish, with_event_time
from modax.advisory._live_models import LiveModels
from modax.advisory._updates import ScoreUpdates
from modax.advisory._writer import LakeWriter
from modax.lake import Lake
from modax.mqtt import ClientFactory, subscribe_on_connect
from modax.schema import REMAINING_LIFE_ESTIMATES_SCHEMA, Kind, decode_batch, topic_for

__all__ = ["TELEMETRY_FILTER", "LiveStats", "run_live"]

TELEMETRY_FILTER = "modax/devices/+/telemetry"
log = logging.getLogger("modax.advise")


@dataclass
class LiveStats:
    """What a live run did.

    ``model_errors`` counts versions the registry offered that could not be used (the advisor
    kept the last good one: ``last_model_error`` says which and why); ``swaps`` the versions
    it swapped in; ``stored`` the rows written to the lake (``scored`` + ``estimates`` once the
    run has ended) in ``lake_commits`` commits.
    """

    messages: int = 0
    scored: int = 0
    alarms: int = 0
    alerts: int = 0
    batches: int = 0
    updates: int = 0
    estimates: int = 0
    stored: int = 0
    lake_commits: int = 0
    swaps: int = 0
    model_errors: int = 0
    last_model_error: str = ""
    running: str = ""


def run_live(
    models: Advisor | LiveModels,
    factory: ClientFactory,
    lake: Lake,
    *,
    batch_s: float = 0.25,
    update_s: float = 1.0,
    refresh_s: float = 30.0,
    duration_s: float | None = None,
    stop: threading.Event | None = None,
    ready: threading.Event | None = None,
) -> LiveStats:
    """Score live telemetry until ``stop`` is set or ``duration_s`` passes.

    Subscribes (QoS 1) to every device's telemetry, and every ``batch_s`` seconds decodes
    what arrived, scores it with the anomaly model and the remaining-life model, and publishes
    on ``modax/devices/{id}/advisory``: the alerts, and a plain update (latest score, remaining
    life with its interval) at most every ``update_s`` seconds per device. Only that path sits
    between a reading and its advice: the rows for the lake's ``scores`` and
    ``remaining_life_estimates`` tables go to a :class:`LakeWriter` thread (bounded queue,
    every row written, the queue drained on stop), and every ``refresh_s`` seconds a thread of
    its own asks the registry whether the ``live`` alias moved and loads the new version
    (:meth:`LiveModels.poll`), which the scoring thread swaps in between batches
    (:meth:`LiveModels.apply`). Once subscribed, the objects alive so far (libraries, models)
    are moved out of the garbage collector's sight (:func:`gc.freeze`), so a full collection
    no longer walks them while readings wait. Invalid messages are left to the ingester, which
    quarantines them. ``ready`` is set once the broker has granted the subscription.

    Raises
    ------
    ConnectionError
        When the broker cannot be reached or refuses the connection.
    """
    live = models if isinstance(models, LiveModels) else LiveModels(models)
    inbox: queue.SimpleQueue[tuple[str, bytes, int]] = queue.SimpleQueue()
    client = factory(f"modax-advise-{uuid.uuid4().hex[:8]}")
    subscribed = subscribe_on_connect(client, TELEMETRY_FILTER)

    def on_message(client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        inbox.put((message.topic, bytes(message.payload), int(time.time() * 1000)))

    client.on_message = on_message
    try:
        factory.connect(client)
    except OSError as exc:
        raise ConnectionError(f"cannot reach the broker at {factory.broker}: {exc}") from None

    def publish(topic: str, payload: bytes) -> None:
        client.publish(topic, payload, qos=1)

    live.advisor.publish = publish
    stats = LiveStats()
    updates = ScoreUpdates(update_s)
    stop = stop or threading.Event()
    deadline = None if duration_s is None else time.monotonic() + duration_s
    writer = LakeWriter(lake)
    polled = threading.Event()
    poller = threading.Thread(
        target=_poll_registry, args=(live, refresh_s, polled), name="modax-advise-registry"
    )
    client.loop_start()
    try:
        if not subscribed.wait(10.0):
            raise ConnectionError(
                f"the broker at {factory.broker} did not accept the connection and subscription"
            )
        gc.freeze()
        poller.start()
        if ready is not None:
            ready.set()
        tick = time.monotonic()
        while not stop.is_set() and (deadline is None or time.monotonic() < deadline):
            tick += batch_s
            stop.wait(max(0.0, tick - time.monotonic()))
            tick = max(tick, time.monotonic() - batch_s)  # late: the next batch is not rushed
            live.apply()
            _drain(inbox, live, writer, updates, publish, stats)
        _drain(inbox, live, writer, updates, publish, stats)
    finally:
        polled.set()
        client.loop_stop()
        client.disconnect()
        writer.close()
        if poller.is_alive():
            poller.join()
        gc.unfreeze()
    stats.stored, stats.lake_commits = sum(writer.rows_written.values()), writer.commits
    stats.alerts = live.advisor.alerts_sent
    stats.swaps, stats.model_errors = live.swaps, live.errors
    stats.last_model_error, stats.running = live.last_error, live.describe()
    return stats


def _poll_registry(live: LiveModels, refresh_s: float, stop: threading.Event) -> None:
    """Every ``refresh_s`` until ``stop``: load what the registry's aliases point at now."""
    while not stop.wait(refresh_s):
        live.poll()


def _drain(
    inbox: queue.SimpleQueue[tuple[str, bytes, int]],
    live: LiveModels,
    writer: LakeWriter,
    updates: ScoreUpdates,
    publish: Publish,
    stats: LiveStats,
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
    scores = live.advisor.score(telemetry)
    estimates = _estimates(live, telemetry)
    for update in updates.messages(scores, estimates):
        publish(topic_for(update.device_id, Kind.ADVISORY), msgspec.json.encode(update))
        stats.updates += 1
    writer.put("scores", scores)
    writer.put("remaining_life_estimates", estimates)
    stats.messages += len(messages)
    stats.scored += scores.num_rows
    stats.estimates += estimates.num_rows
    stats.alarms += sum(scores["alarm"].to_pylist())
    stats.batches += 1


def _estimates(live: LiveModels, telemetry: pa.Table) -> pa.Table:
    """The remaining-life model's rows for this batch (none without a model, or when it fails:
    the anomaly scores and alerts go on, and the failure is logged and counted).
    """
    if live.remaining_life is None or telemetry.num_rows == 0:
        return REMAINING_LIFE_ESTIMATES_SCHEMA.empty_table()
    try:
        return live.remaining_life.update(with_event_time(telemetry))
    except (ValueError, KeyError, TypeError) as exc:
        live.report_error("remaining-life", str(exc))
        return REMAINING_LIFE_ESTIMATES_SCHEMA.empty_table()
