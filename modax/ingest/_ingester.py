"""Live ingestion: MQTT → micro-batches → :class:`~modax.pipeline.Pipeline` → lake → acknowledge.

At-least-once end to end: messages arrive with QoS 1 on a persistent session (fixed client id,
``clean_start=False``, a session expiry), and a message is acknowledged only after the lake
commit that holds it succeeded. A crash before that leaves it unacknowledged, so the broker
delivers it again; the pipeline's dedupe on ``(device_id, seq)`` stores it once.

Two parts: the MQTT session (:class:`~modax.ingest._session.BrokerSession`: connection,
subscriptions, acknowledgements) whose paho network thread puts messages into a bounded
:class:`~modax.ingest.Inbox`, and here one worker thread that takes micro-batches, runs the
pipeline, has the session acknowledge them and publishes derived safety events to
``modax/devices/{id}/events``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any

import msgspec
import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode

from modax.config import BrokerURL, Settings, parse_broker_url
from modax.ingest._backoff import Backoff
from modax.ingest._inbox import Batch, Inbox
from modax.ingest._metrics import IngestMetrics
from modax.ingest._mqtt import IngestError
from modax.ingest._options import IngestOptions
from modax.ingest._session import BrokerSession
from modax.lake import Lake
from modax.mqtt import (
    BrokerAuth,
)
from modax.pipeline import BatchResult, Pipeline
from modax.schema import SafetyEvent, parse_topic, topic_for

__all__ = ["Ingester", "event_payload"]

log = logging.getLogger("modax.ingest")

#: Lake table → topic kind, for the accepted-messages metric.
_TABLE_KIND = {"telemetry": "telemetry", "device_safety": "safety", "devices": "status"}
#: MQTT 5 upper bound of Receive Maximum (unacknowledged QoS 1 messages in flight to us).
_RECEIVE_MAXIMUM = 65_535
#: Seconds to wait for the answer to an MQTT 5 CONNECT before trying 3.1.1 (``auto``).
_CONNACK_TIMEOUT_S = 3.0
#: CONNACK of a broker that speaks only MQTT 3.1.1.
_UNSUPPORTED = ReasonCode(PacketTypes.CONNACK, "Unsupported protocol version")


def event_payload(row: dict[str, Any]) -> bytes:
    """The JSON published for one ``safety_events`` row: a :class:`modax.schema.SafetyEvent`.

    Parameters
    ----------
    row : dict
        The row's columns (``date`` is not published); ``ts`` as a datetime or epoch ms.

    Returns
    -------
    bytes
        The event as JSON, ``ts`` in epoch ms (UTC).

    Examples
    --------
    >>> from datetime import datetime, UTC
    >>> ts = datetime(2026, 1, 1, tzinfo=UTC)
    >>> event_payload({"device_id": "m1", "ts": ts, "kind": "overload", "state": "begin",
    ...                "value": 12.5, "threshold": 10.0, "date": ts.date()})
    b'{"device_id":"m1","ts":1767225600000,"kind":"overload","state":"begin","value":12.5,"threshold":10.0}'
    """
    ts = row["ts"]
    event = SafetyEvent(
        row["device_id"],
        int(ts.timestamp() * 1000) if isinstance(ts, datetime) else ts,
        row["kind"],
        row["state"],
        row.get("value"),
        row.get("threshold"),
    )
    return msgspec.json.encode(event)


class Ingester:
    """Subscribe to a broker and store every message in the lake, at least once, deduplicated.

    Parameters
    ----------
    broker : str or BrokerURL
        ``mqtt://host:port`` or ``mqtts://host:port``.
    lake : Lake, str or None
        Where to write (``MODAX_LAKE`` when ``None``).
    auth : BrokerAuth, optional
        User name, password and TLS files.
    options : IngestOptions, optional
        Topics, batching, session and reconnect settings.
    metrics : IngestMetrics, optional
        Where to count (a fresh registry by default).
    pipeline_factory : callable, optional
        Makes the :class:`~modax.pipeline.Pipeline` from the lake (e.g. with other derivers).
        A failed commit is retried on the same pipeline, which keeps its derivers' state.

    Examples
    --------
    >>> with Ingester("mqtt://localhost:1883", "data/lake") as ingester:  # doctest: +SKIP
    ...     ingester.wait_connected()
    ...     ...  # messages published now land in the lake
    """

    def __init__(
        self,
        broker: str | BrokerURL,
        lake: Lake | str | None = None,
        *,
        auth: BrokerAuth | None = None,
        options: IngestOptions | None = None,
        metrics: IngestMetrics | None = None,
        pipeline_factory: Callable[[Lake], Pipeline] = Pipeline,
    ) -> None:
        self.broker = (
            broker if isinstance(broker, BrokerURL) else parse_broker_url(broker, name="broker")
        )
        self.lake = lake if isinstance(lake, Lake) else Lake(lake)
        self.auth = auth or BrokerAuth()
        self.options = options or IngestOptions()
        if not 1 <= self.options.batch_size <= self.options.max_queued:
            raise ValueError("need 1 <= batch_size <= max_queued")
        if self.options.mqtt_version not in ("5", "3.1.1", "auto"):
            raise ValueError(f"mqtt_version={self.options.mqtt_version!r}: use 5, 3.1.1 or auto")
        self.metrics = metrics or IngestMetrics()
        self.totals = BatchResult()
        self.pipeline = pipeline_factory(self.lake)
        self.inbox = Inbox(
            self.options.batch_size,
            self.options.batch_s,
            self.options.max_queued,
            self.options.max_queued_bytes,
        )
        self._stopping = threading.Event()
        self.session = BrokerSession(
            self.broker, self.auth, self.options, self.inbox, self.metrics, self._stopping
        )
        self._session: int | None = None  # connection generation of the last batch committed
        self._unacked_at_exit = 0
        self._finished = threading.Event()
        self._last_commit_error: str | None = None
        self._last_event: mqtt.MQTTMessageInfo | None = None
        self._stopped = False
        self._worker: threading.Thread | None = None

    @classmethod
    def from_settings(
        cls, settings: Settings, options: IngestOptions | None = None, **kwargs: Any
    ) -> Ingester:
        """An ingester for ``MODAX_BROKER``, ``MODAX_LAKE`` and the ``MODAX_MQTT_*`` credentials."""
        return cls(
            settings.broker_url,
            settings.lake,
            auth=BrokerAuth.from_settings(settings),
            options=options,
            **kwargs,
        )

    # --- state -----------------------------------------------------------------------------

    @property
    def error(self) -> IngestError | None:
        """Why ingestion stopped for good (refused credentials, TLS), or ``None``."""
        return self.session.error

    @property
    def mqtt5(self) -> bool:
        """Whether the session speaks MQTT 5 (``False`` after falling back to 3.1.1)."""
        return self.session.mqtt5

    @property
    def connected(self) -> bool:
        """Whether a session with the broker is up and its subscriptions are granted."""
        return self.session.connected

    @property
    def running(self) -> bool:
        """Whether it has started and has not finished."""
        return self._worker is not None and not self._finished.is_set()

    @property
    def unacked_at_exit(self) -> int:
        """Messages left unacknowledged by :meth:`stop` (the broker delivers them again)."""
        return self._unacked_at_exit

    def health(self) -> tuple[bool, dict[str, Any]]:
        """Liveness: the batch worker runs and nothing fatal happened."""
        alive = self._worker is not None and self._worker.is_alive() and self.error is None
        return alive, {"error": None if self.error is None else str(self.error)}

    def ready(self) -> tuple[bool, dict[str, Any]]:
        """Readiness: connected to the broker and the last lake commit succeeded."""
        ok = self.connected and self._last_commit_error is None and self.error is None
        return ok, {
            "connected": self.connected,
            "last_commit_error": self._last_commit_error,
            "queued": len(self.inbox),
        }

    def wait_connected(self, timeout: float = 10.0) -> None:
        """Block until connected and subscribed.

        Raises
        ------
        IngestError
            When the broker refused us (the reason says what to fix).
        TimeoutError
            When not connected within ``timeout`` seconds.
        """
        self.session.wait_connected(timeout)

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> Ingester:
        """Connect (retrying with backoff while the broker is unreachable) and start ingesting.

        Returns at once; the first connection is made on a background thread. A refusal that
        retrying cannot fix (credentials, TLS) sets :attr:`error` and ends ingestion.
        """
        if self._worker is not None:
            raise RuntimeError("an Ingester can be started once")
        self._worker = threading.Thread(target=self._work, name="modax-ingest-worker", daemon=True)
        self._worker.start()
        self.session.start()
        return self

    # --- the worker: commit, then acknowledge ---------------------------------------------------

    def _work(self) -> None:
        try:
            while True:
                batch = self.inbox.take(timeout_s=0.5)
                self.metrics.queue_depth.set(len(self.inbox))
                if len(batch):
                    self._commit(batch)
                elif self._stopping.is_set():
                    return
        finally:
            self._finished.set()

    def _commit(self, batch: Batch) -> None:
        if batch.generations[-1] != self._session:  # a new connection: redeliveries come first
            self.pipeline.new_session()
            self._session = batch.generations[-1]
        retry = Backoff(self.options.reconnect_initial_s, self.options.reconnect_max_s)
        start = time.monotonic()
        while True:
            try:
                result = self.pipeline.process(batch.topics, batch.payloads, batch.received_ms)
                break
            except Exception as exc:  # any failure: retried, never dropped, never acknowledged
                self._last_commit_error = f"{type(exc).__name__}: {exc}"
                self.metrics.commit_failures.inc()
                if self._stopping.is_set():
                    self._unacked_at_exit += len(batch)
                    log.error("lake commit failed at shutdown; %d left unacknowledged", len(batch))
                    return
                delay = retry.next()
                log.error(
                    "lake commit failed (%s); retry in %.1f s", self._last_commit_error, delay
                )
                self._stopping.wait(delay)
        self._last_commit_error = None
        done = time.monotonic()
        self.session.ack(batch)
        self._count(batch, result, done - start)
        if result.events is not None and self.options.publish_events:
            self._publish_events(result)

    def _count(self, batch: Batch, result: BatchResult, seconds: float) -> None:
        self.totals.merge(result)
        m = self.metrics
        for topic, n in Counter(batch.topics).items():
            parsed = parse_topic(topic)
            m.received.labels(kind=parsed[0].value if parsed else "unknown").inc(n)
        for table, kind in _TABLE_KIND.items():
            if result.rows.get(table):
                m.accepted.labels(kind=kind).inc(result.rows[table])
        m.duplicates.inc(result.duplicates)
        for reason, n in result.quarantined.items():
            m.quarantined.labels(reason=reason).inc(n)
        m.batch_size.observe(len(batch))
        m.commit_seconds.observe(seconds)
        m.lag_seconds.observe(max(0.0, time.time() - batch.received_ms[0] / 1000))
        log.debug(
            "committed %d messages in %.3f s",
            len(batch),
            seconds,
            extra={"accepted": result.accepted, "duplicates": result.duplicates},
        )

    def _publish_events(self, result: BatchResult) -> None:
        events = result.events
        assert events is not None
        for row in events.to_pylist():
            self._last_event = self.session.publish(
                topic_for(row["device_id"], "events"), event_payload(row)
            )
        self.metrics.events_published.inc(events.num_rows)

    def stop(self, timeout: float = 30.0) -> BatchResult:
        """Stop cleanly: take no new messages, commit and acknowledge what waits, disconnect.

        Parameters
        ----------
        timeout : float
            Seconds to wait for the last batch's commit (and the broker's acknowledgement of
            published events) before disconnecting anyway.

        Returns
        -------
        BatchResult
            Totals of everything this ingester stored.
        """
        if self._stopped:
            return self.totals
        self._stopped = True
        self._stopping.set()
        self.inbox.close()
        if self._worker is not None:
            self._worker.join(timeout)
        self.totals.merge(self.pipeline.close())
        event = self._last_event
        if event is not None and self.connected and event.rc == mqtt.MQTT_ERR_SUCCESS:
            try:
                event.wait_for_publish(timeout)
            except RuntimeError as exc:  # lost with the connection; not stored, only a signal
                log.warning("the last safety event was not acknowledged: %s", exc)
        self.session.close(timeout)
        self._finished.set()
        return self.totals

    def __enter__(self) -> Ingester:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
