"""The ingester's MQTT session: one persistent paho client that feeds the inbox.

It connects (retrying with backoff while the broker is unreachable, falling back to MQTT 3.1.1
for brokers that speak only that), subscribes, puts every message into the bounded
:class:`~modax.ingest.Inbox` from paho's network thread, and acknowledges messages when the
worker says their batch is committed — only those of the current connection (a message of an
earlier one is delivered again by the broker). A refusal that retrying cannot fix (credentials,
TLS, subscriptions) sets :attr:`BrokerSession.error` and stops ingestion.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import cast

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode

from modax.config import BrokerURL
from modax.ingest._backoff import Backoff
from modax.ingest._inbox import Batch, Inbox
from modax.ingest._metrics import IngestMetrics
from modax.ingest._mqtt import IngestError, connect_properties
from modax.ingest._options import IngestOptions
from modax.mqtt import (
    BrokerAuth,
    ClientFactory,
    LastError,
    MqttError,
    describe_os_error,
    describe_refusal,
    reconnect_delay,
)

__all__ = ["BrokerSession"]

log = logging.getLogger("modax.ingest")

#: MQTT 5 upper bound of Receive Maximum (unacknowledged QoS 1 messages in flight to us).
_RECEIVE_MAXIMUM = 65_535
#: Seconds to wait for the answer to an MQTT 5 CONNECT before trying 3.1.1 (``auto``).
_CONNACK_TIMEOUT_S = 3.0
#: CONNACK of a broker that speaks only MQTT 3.1.1.
_UNSUPPORTED = ReasonCode(PacketTypes.CONNACK, "Unsupported protocol version")


class BrokerSession:
    """A persistent MQTT session that puts every message into ``inbox``, acknowledged on request.

    Parameters
    ----------
    broker : BrokerURL
    auth : BrokerAuth
    options : IngestOptions
        Client id, topics, session expiry, protocol version, keep-alive and backoff.
    inbox : Inbox
        Where messages go (paho's network thread puts them there).
    metrics : IngestMetrics
        Connection state and reconnects are counted there.
    stopping : threading.Event
        Set by the ingester to stop taking messages; the session sets it on a fatal error.

    Examples
    --------
    >>> opts = IngestOptions(client_id="doc-session")
    >>> session = BrokerSession(BrokerURL("localhost", 1883, False), BrokerAuth(), opts,
    ...                         Inbox(10, 0.1, 100), IngestMetrics(), threading.Event())
    >>> session.mqtt5, session.connected
    (True, False)
    """

    def __init__(
        self,
        broker: BrokerURL,
        auth: BrokerAuth,
        options: IngestOptions,
        inbox: Inbox,
        metrics: IngestMetrics,
        stopping: threading.Event,
    ) -> None:
        self.broker = broker
        self.auth = auth
        self.options = options
        self.inbox = inbox
        self.metrics = metrics
        self.error: IngestError | None = None
        self.mqtt5 = options.mqtt_version != "3.1.1"
        self._stopping = stopping
        self._factory = ClientFactory(
            broker,
            auth,
            reconnect_min_s=options.reconnect_initial_s,
            reconnect_max_s=options.reconnect_max_s,
            keepalive_s=options.keepalive_s,
        )
        self._client = self._new_client()
        self._settled = threading.Event()
        self._connack = threading.Event()
        self._unsupported = False
        self._backoff = Backoff(options.reconnect_initial_s, options.reconnect_max_s)
        self._ack_lock = threading.Lock()
        self._generation = 0
        self._connects = 0
        self._connected = threading.Event()
        self._connector = threading.Thread(
            target=self._connect, name="modax-ingest-connect", daemon=True
        )

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

    @property
    def connected(self) -> bool:
        """Whether a session with the broker is up and its subscriptions are granted."""
        return self._connected.is_set()

    def wait_connected(self, timeout: float = 10.0) -> None:
        """Block until connected and subscribed (see :meth:`Ingester.wait_connected`)."""
        deadline = time.monotonic() + timeout
        while not self._connected.wait(0.05):
            if self.error is not None:
                raise self.error
            if time.monotonic() > deadline:
                raise TimeoutError(f"not connected to {self.broker} within {timeout:g} s")

    def start(self) -> None:
        """Make the first connection on a background thread (returns at once)."""
        self._connector.start()

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

    # --- what the worker asks of the session --------------------------------------------------

    def ack(self, batch: Batch) -> None:
        """Acknowledge ``batch``'s QoS 1 messages that arrived on the current connection."""
        with self._ack_lock:
            generation = self._generation
            for mid, qos, gen in zip(batch.mids, batch.qos, batch.generations, strict=True):
                if qos and gen == generation:
                    self._client.ack(mid, qos)

    def publish(self, topic: str, payload: bytes) -> mqtt.MQTTMessageInfo:
        """Publish ``payload`` on ``topic`` at QoS 1."""
        return self._client.publish(topic, payload, qos=1)

    def close(self, timeout: float) -> None:
        """Disconnect and stop paho's network thread (after the connector gave up)."""
        self._connector.join(timeout)
        if self._connected.is_set():
            self._client.disconnect()
        self._client.loop_stop()
