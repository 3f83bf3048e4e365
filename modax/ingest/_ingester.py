"""Live ingestion: MQTT → micro-batches → :class:`~modax.pipeline.Pipeline` → lake → acknowledge.

At-least-once end to end: messages arrive with QoS 1 on a persistent session (fixed client id,
``clean_start=False``, a session expiry), and a message is acknowledged only after the lake
commit that holds it succeeded. A crash before that leaves it unacknowledged, so the broker
delivers it again; the pipeline's dedupe on ``(device_id, seq)`` stores it once.

Threads: paho's network thread puts messages into a bounded :class:`~modax.ingest.Inbox`; one
worker thread takes micro-batches, runs the pipeline, acknowledges and publishes derived safety
events to ``modax/devices/{id}/events``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import msgspec
import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode

from modax.config import BrokerURL, Settings, parse_broker_url
from modax.ingest._backoff import Backoff
from modax.ingest._inbox import Batch, Inbox
from modax.ingest._metrics import IngestMetrics
from modax.ingest._mqtt import DEFAULT_TOPICS, IngestError, connect_properties, shared_topic
from modax.lake import Lake
from modax.mqtt import (
    BrokerAuth,
    ClientFactory,
    LastError,
    MqttError,
    describe_os_error,
    describe_refusal,
    reconnect_delay,
)
from modax.pipeline import BatchResult, Pipeline
from modax.schema import SafetyEvent, parse_topic, topic_for

__all__ = ["IngestOptions", "Ingester", "event_payload"]

log = logging.getLogger("modax.ingest")

#: Lake table → topic kind, for the accepted-messages metric.
_TABLE_KIND = {"telemetry": "telemetry", "device_safety": "safety", "devices": "status"}
#: MQTT 5 upper bound of Receive Maximum (unacknowledged QoS 1 messages in flight to us).
_RECEIVE_MAXIMUM = 65_535
#: Seconds to wait for the answer to an MQTT 5 CONNECT before trying 3.1.1 (``auto``).
_CONNACK_TIMEOUT_S = 3.0
#: CONNACK of a broker that speaks only MQTT 3.1.1.
_UNSUPPORTED = ReasonCode(PacketTypes.CONNACK, "Unsupported protocol version")


@dataclass(frozen=True)
class IngestOptions:
    """How an :class:`Ingester` subscribes, batches and reconnects.

    Attributes
    ----------
    topics : tuple of str
        Topic filters to subscribe to (QoS 1).
    client_id : str
        Fixed MQTT client id: the broker keeps this session's queue while the ingester is down.
    shared_group : str or None
        Subscribe as ``$share/{group}/...`` so ingesters of one group split the messages.
    batch_size : int
        Commit when this many messages wait...
    batch_s : float
        ... or when the oldest has waited this long, in s (bounds publish-to-queryable latency).
    max_queued : int
        Messages that may wait for a batch; also the MQTT Receive Maximum (≤ 65,535), so the
        broker holds back the rest.
    max_queued_bytes : int
        Bytes of topics and payloads that may wait; past either bound the network thread stops
        reading.
    keepalive_s : int
        MQTT keepalive, in s.
    session_expiry_s : int
        How long the broker keeps the session (and queues for it) while disconnected, in s.
    reconnect_initial_s, reconnect_max_s : float
        Backoff bounds for reconnects and retried lake commits, in s (full jitter).
    publish_events : bool
        Publish derived safety events to ``modax/devices/{id}/events``.
    mqtt_version : str
        ``"5"``, ``"3.1.1"`` or ``"auto"`` (MQTT 5, falling back to 3.1.1 for brokers such as
        amqtt that speak only 3.1.1: no session expiry nor Receive Maximum there).

    Examples
    --------
    >>> IngestOptions(shared_group="modax").subscriptions()[0]
    '$share/modax/modax/devices/+/telemetry'
    """

    topics: tuple[str, ...] = DEFAULT_TOPICS
    client_id: str = "modax-ingest"
    shared_group: str | None = None
    batch_size: int = 5_000
    batch_s: float = 0.2
    max_queued: int = 50_000
    max_queued_bytes: int = 64 * 1024 * 1024
    keepalive_s: int = 30
    session_expiry_s: int = 7 * 24 * 3600
    reconnect_initial_s: float = 0.5
    reconnect_max_s: float = 30.0
    publish_events: bool = True
    mqtt_version: str = "auto"

    def subscriptions(self) -> list[str]:
        """The topic filters as subscribed (shared when ``shared_group`` is set)."""
        return [shared_topic(t, self.shared_group) for t in self.topics]


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
        self.error: IngestError | None = None
        self.pipeline = pipeline_factory(self.lake)
        self.inbox = Inbox(
            self.options.batch_size,
            self.options.batch_s,
            self.options.max_queued,
            self.options.max_queued_bytes,
        )
        self.mqtt5 = self.options.mqtt_version != "3.1.1"
        self._factory = ClientFactory(
            self.broker,
            self.auth,
            reconnect_min_s=self.options.reconnect_initial_s,
            reconnect_max_s=self.options.reconnect_max_s,
            keepalive_s=self.options.keepalive_s,
        )
        self._client = self._new_client()
        self._settled = threading.Event()
        self._connack = threading.Event()
        self._unsupported = False
        self._backoff = Backoff(self.options.reconnect_initial_s, self.options.reconnect_max_s)
        self._ack_lock = threading.Lock()
        self._generation = 0
        self._session: int | None = None  # connection generation of the last batch committed
        self._connects = 0
        self._unacked_at_exit = 0
        self._connected = threading.Event()
        self._stopping = threading.Event()
        self._finished = threading.Event()
        self._last_commit_error: str | None = None
        self._last_event: mqtt.MQTTMessageInfo | None = None
        self._stopped = False
        self._threads: list[threading.Thread] = []

    def _new_client(self) -> mqtt.Client:
        try:
            client = self._factory(
                self.options.client_id, mqtt5=self.mqtt5, persistent=True, manual_ack=True
            )
        except MqttError as exc:
            raise IngestError(str(exc)) from None
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        self._socket_errors = LastError.attach(client, self.options.client_id)
        return client

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
    def connected(self) -> bool:
        """Whether a session with the broker is up and its subscriptions are granted."""
        return self._connected.is_set()

    @property
    def running(self) -> bool:
        """Whether it has started and has not finished."""
        return bool(self._threads) and not self._finished.is_set()

    @property
    def unacked_at_exit(self) -> int:
        """Messages left unacknowledged by :meth:`stop` (the broker delivers them again)."""
        return self._unacked_at_exit

    def health(self) -> tuple[bool, dict[str, Any]]:
        """Liveness: the batch worker runs and nothing fatal happened."""
        alive = bool(self._threads) and self._threads[0].is_alive() and self.error is None
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
        deadline = time.monotonic() + timeout
        while not self._connected.wait(0.05):
            if self.error is not None:
                raise self.error
            if time.monotonic() > deadline:
                raise TimeoutError(f"not connected to {self.broker} within {timeout:g} s")

    # --- MQTT callbacks (paho's network thread) ---------------------------------------------

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        properties: object,
    ) -> None:
        self._connack.set()
        if reason.is_failure:
            if self.mqtt5 and self.options.mqtt_version == "auto" and reason == _UNSUPPORTED:
                self._unsupported = True
                client.disconnect()
                self._settled.set()
                return
            retry, message = describe_refusal(reason, self.broker, self.auth)
            if retry:
                log.warning(message)
                reconnect_delay(client, self._next_delay(), self.options.reconnect_max_s)
                return
            self._fail(message)
            client.disconnect()
            return
        self._backoff.reset()
        with self._ack_lock:
            self._generation += 1
        self._connects += 1
        if self._connects > 1:
            self.metrics.reconnects.inc()
        client.subscribe([(t, 1) for t in self.options.subscriptions()])
        log.info(
            "connected to %s (session present: %s)",
            self.broker,
            flags.session_present,
            extra={"broker": str(self.broker), "session_present": flags.session_present},
        )

    def _on_subscribe(
        self,
        client: mqtt.Client,
        userdata: object,
        mid: int,
        reasons: list[ReasonCode],
        properties: object,
    ) -> None:
        refused = [
            f"{topic} ({reason.getName()})"
            for topic, reason in zip(self.options.subscriptions(), reasons, strict=False)
            if reason.is_failure
        ]
        if refused:
            self._fail(f"broker {self.broker} refused the subscriptions: {', '.join(refused)}")
            client.disconnect()
            return
        self._connected.set()
        self._settled.set()
        self.metrics.connected.set(1)

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.DisconnectFlags,
        reason: ReasonCode,
        properties: object,
    ) -> None:
        with self._ack_lock:
            self._generation += 1
        was_connected = self._connected.is_set()
        self._connected.clear()
        self.metrics.connected.set(0)
        if self._stopping.is_set() or self.error is not None:
            return
        cause = self._socket_errors.message or reason.getName()
        self._socket_errors.message = None
        if not was_connected and "[SSL" in cause:
            self._fail(
                f"TLS: {self.broker} ended the connection: {cause} "
                "(a client certificate may be required: --cert-file and --key-file)"
            )
            client.disconnect()
            return
        delay = self._next_delay()
        reconnect_delay(client, delay, self.options.reconnect_max_s)
        if was_connected:
            log.warning("lost %s (%s); reconnecting in %.1f s", self.broker, cause, delay)

    def _on_connect_fail(self, client: mqtt.Client, userdata: object) -> None:
        reconnect_delay(client, self._next_delay(), self.options.reconnect_max_s)

    def _next_delay(self) -> float:
        return self._backoff.next()

    def _fail(self, message: str) -> None:
        log.error(message)
        self.error = IngestError(message)
        self._settled.set()
        self._stopping.set()
        self.inbox.close()

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        if self._stopping.is_set():
            return  # not acknowledged: the broker delivers it to the next session
        self.inbox.put(
            msg.topic,
            cast(bytes, msg.payload),  # paho hands bytes (typed bytes | bytearray)
            time.time_ns() // 1_000_000,
            mid=msg.mid,
            qos=msg.qos,
            generation=self._generation,
        )

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> Ingester:
        """Connect (retrying with backoff while the broker is unreachable) and start ingesting.

        Returns at once; the first connection is made on a background thread. A refusal that
        retrying cannot fix (credentials, TLS) sets :attr:`error` and ends ingestion.
        """
        if self._threads:
            raise RuntimeError("an Ingester can be started once")
        worker = threading.Thread(target=self._work, name="modax-ingest-worker", daemon=True)
        connector = threading.Thread(target=self._connect, name="modax-ingest-connect", daemon=True)
        self._threads = [worker, connector]
        worker.start()
        connector.start()
        return self

    def _connect(self) -> None:
        """Make the first connection: retry while unreachable, fall back to MQTT 3.1.1 if needed."""
        while self._connect_once():
            started = time.monotonic()
            while not self._settled.wait(0.1):
                if self._stopping.is_set():
                    return
                if (
                    self.mqtt5
                    and self.options.mqtt_version == "auto"
                    and not self._connack.is_set()
                    and time.monotonic() - started > _CONNACK_TIMEOUT_S
                ):
                    self._unsupported = True  # amqtt never answers an MQTT 5 CONNECT
                    break
            if not self._unsupported:
                return
            self._client.loop_stop()
            self._unsupported = False
            self._settled.clear()
            self.mqtt5 = False
            self._client = self._new_client()
            log.info("%s does not speak MQTT 5: using MQTT 3.1.1", self.broker)

    def _connect_once(self) -> bool:
        client = self._client
        properties = (
            connect_properties(
                self.options.session_expiry_s, min(_RECEIVE_MAXIMUM, self.options.max_queued)
            )
            if self.mqtt5
            else None
        )
        while not self._stopping.is_set():
            try:
                self._factory.connect(client, clean_start=False, properties=properties)
            except OSError as exc:
                retry, message = describe_os_error(exc, self.broker, self.auth)
                if not retry:
                    self._fail(message)
                    return False
                delay = self._next_delay()
                log.warning("%s; retrying in %.1f s", message, delay)
                self._stopping.wait(delay)
                continue
            client.loop_start()
            return True
        return False

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
        self._ack(batch)
        self._count(batch, result, done - start)
        if result.events is not None and self.options.publish_events:
            self._publish_events(result)

    def _ack(self, batch: Batch) -> None:
        with self._ack_lock:
            generation = self._generation
            for mid, qos, gen in zip(batch.mids, batch.qos, batch.generations, strict=True):
                if qos and gen == generation:
                    self._client.ack(mid, qos)

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
            self._last_event = self._client.publish(
                topic_for(row["device_id"], "events"), event_payload(row), qos=1
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
        for thread in self._threads:
            thread.join(timeout)
        self.totals.merge(self.pipeline.close())
        event = self._last_event
        if event is not None and self._connected.is_set() and event.rc == mqtt.MQTT_ERR_SUCCESS:
            try:
                event.wait_for_publish(timeout)
            except RuntimeError as exc:  # lost with the connection; not stored, only a signal
                log.warning("the last safety event was not acknowledged: %s", exc)
        if self._connected.is_set():
            self._client.disconnect()
        self._client.loop_stop()
        self._finished.set()
        return self.totals

    def __enter__(self) -> Ingester:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
