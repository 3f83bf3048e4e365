"""Live mode: publish a fleet over MQTT in real time (or ``speed`` × faster), like the firmware.

One paho-mqtt 2.x client per device, so every device has its own last will
(``modax/devices/{id}/status`` → ``{"device_id": ..., "online": false}``, retained) and announces
``online: true`` when it connects — or a ``pool`` of clients shared by the devices (see
:class:`LivePublisher`). All clients are driven by one selector loop in the calling thread (no
thread per device); QoS 0 messages are written in batches, one ``send`` per client and loop
(:mod:`simulator._mqtt_batch`). Telemetry goes out at 10 Hz × ``speed``, safety messages on change
and at least once a second, each at the moment the network model says it arrives — so lost,
duplicated, reordered and burst messages reach the broker as they would from a real device.

The twin is steerable: every device's client subscribes to ``modax/devices/{id}/command``
(QoS 1); commands are applied before the next chunk (:class:`~simulator._steering.Steering`) and
acknowledged on ``modax/devices/{id}/command/ack`` (QoS 1, not retained). The fault periods that
begin during the run — scenario faults and injected ones, each with its time — are kept in
:attr:`LivePublisher.ground_truth` (the most recent ``truth_rows``).

Examples
--------
>>> from simulator import Fleet
>>> pub = LivePublisher(Fleet(n_devices=2), "127.0.0.1", 1883, speed=10.0)
>>> pub.speed, pub.qos
(10.0, 0)
"""

from __future__ import annotations

import heapq
import itertools
import selectors
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import msgspec
import paho.mqtt.client as mqtt
import pyarrow as pa

from modax.schema import DeviceStatus, Kind, topic_for
from simulator._fleet import Fleet
from simulator._mqtt_batch import BatchWriter, client_socket
from simulator._steering import Steering
from simulator._tables import GROUND_TRUTH_SCHEMA

__all__ = ["LivePublisher", "PublishStats"]

_ENCODER = msgspec.json.Encoder()
#: Simulated seconds generated per chunk (short, so that making one delays publishing little).
CHUNK_S = 0.5
#: Half a reading period, ms: the slack when telemetry is thinned to a commanded rate.
_HALF_READING_MS = 50


@dataclass
class PublishStats:
    """What a live run did.

    Attributes
    ----------
    published : dict
        Messages handed to the broker, by kind (``telemetry``, ``safety``, ``status``,
        ``command/ack``).
    simulated_s, wall_s : float
        Simulated and elapsed seconds.
    max_late_s : float
        The most any message went out after its due (wall) time; near 0 when the process keeps
        up, growing when it falls behind.
    """

    published: dict[str, int] = field(
        default_factory=lambda: {"telemetry": 0, "safety": 0, "status": 0, "command/ack": 0}
    )
    simulated_s: float = 0.0
    wall_s: float = 0.0
    max_late_s: float = 0.0

    @property
    def messages_per_s(self) -> float:
        """Published messages per wall second."""
        return sum(self.published.values()) / self.wall_s if self.wall_s else 0.0


def _plain_client(client_id: str) -> mqtt.Client:
    """An MQTT 3.1.1 client without credentials or TLS (a broker on this machine)."""
    return mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311
    )


def _status(device_id: str, online: bool) -> bytes:
    return _ENCODER.encode(DeviceStatus(device_id=device_id, online=online))


class LivePublisher:
    """Publish a :class:`~simulator.Fleet` live to an MQTT broker.

    Parameters
    ----------
    fleet : Fleet
        The fleet to run; it advances as messages go out.
    host, port : str, int
        The broker.
    speed : float
        Simulated seconds per wall second (1 = real time: 10 Hz telemetry per device).
    qos : int
        QoS of telemetry and safety messages (status messages use QoS 1, retained).
    client_factory : callable, optional
        Makes each MQTT client from its client id, with the credentials and TLS settings of the
        broker (``modax.mqtt.ClientFactory``, as ``modax simulate --mqtt`` passes it); a plain
        MQTT 3.1.1 client without credentials when ``None``.
    client_prefix : str
        MQTT client ids are ``{client_prefix}-{device_id}`` (``{client_prefix}-pool-{j}`` in a
        pool).
    pool : int, optional
        Share this many connections among the devices (device ``i`` on connection ``i % pool``)
        instead of one per device. Each pooled connection announces ``online: true`` for its
        devices when it connects and ``online: false`` on a clean close, but MQTT gives a
        connection one last will only, so a pooled publisher that dies leaves its devices'
        retained status ``online``: consumers notice the silence by the readings' age instead.
        Without a pool every device has its own retained last will.
    truth_rows : int
        Most ground-truth rows kept in :attr:`ground_truth` (the oldest go first).

    Attributes
    ----------
    steering : Steering
        The commands' inbox; :meth:`Steering.receive` also takes commands from Python.
    """

    def __init__(
        self,
        fleet: Fleet,
        host: str,
        port: int,
        *,
        speed: float = 1.0,
        qos: int = 0,
        client_factory: Callable[[str], mqtt.Client] | None = None,
        client_prefix: str = "modax-sim",
        pool: int | None = None,
        truth_rows: int = 100_000,
    ) -> None:
        if speed <= 0:
            raise ValueError(f"speed={speed}: must be above 0")
        if qos not in (0, 1, 2):
            raise ValueError(f"qos={qos}: must be 0, 1 or 2")
        if pool is not None and pool < 1:
            raise ValueError(f"pool={pool}: must be 1 or more")
        self.fleet = fleet
        self.host = host
        self.port = port
        self.speed = speed
        self.qos = qos
        self.client_factory = client_factory or _plain_client
        self.client_prefix = client_prefix
        self.pool = pool
        self._clients: dict[str, mqtt.Client] = {}
        self._connections: list[mqtt.Client] = []
        self._batch = BatchWriter()
        self._last: dict[str, mqtt.MQTTMessageInfo] = {}
        self._selector = selectors.DefaultSelector()
        self.stats = PublishStats()
        self.steering = Steering(fleet)
        self.truth_rows = truth_rows
        self._truth: deque[pa.Table] = deque()
        self._subscribed: set[mqtt.Client] = set()
        self._next_reading: dict[str, float] = {}

    @property
    def ground_truth(self) -> pa.Table:
        """Fault periods that began during the run (``GROUND_TRUTH_SCHEMA``), injected ones too."""
        return pa.concat_tables([GROUND_TRUTH_SCHEMA.empty_table(), *self._truth])

    def _record_truth(self, table: pa.Table) -> None:
        self._truth.append(table)
        rows = sum(t.num_rows for t in self._truth)
        while rows > self.truth_rows:
            rows -= self._truth.popleft().num_rows

    def _client(self, name: str, device_ids: list[str]) -> mqtt.Client:
        """A connection for ``device_ids``; with a last will when it serves one device only."""
        client = self.client_factory(f"{self.client_prefix}-{name}")
        client.max_inflight_messages_set(0)  # unlimited: a 10 Hz device must not queue behind acks
        if self.pool is None:
            (device_id,) = device_ids
            will = _status(device_id, online=False)
            client.will_set(topic_for(device_id, "status"), will, qos=1, retain=True)

        def on_connect(
            client: mqtt.Client, _userdata: object, _flags: object, reason: object, _props: object
        ) -> None:
            if not getattr(reason, "is_failure", False):
                client.subscribe([(topic_for(d, Kind.COMMAND), 1) for d in device_ids])
                for device_id in device_ids:
                    status = topic_for(device_id, "status")
                    client.publish(status, _status(device_id, online=True), qos=1, retain=True)
                    self.stats.published["status"] += 1

        def on_subscribe(client: mqtt.Client, *_: object) -> None:
            self._subscribed.add(client)

        def on_message(_client: mqtt.Client, _userdata: object, message: mqtt.MQTTMessage) -> None:
            self.steering.receive(message.topic, message.payload)

        client.on_connect = on_connect
        client.on_subscribe = on_subscribe
        client.on_message = on_message
        return client

    def connect(self, timeout: float = 30.0) -> None:
        """Connect every client (one per device, or the pool); wait until the broker has
        acknowledged each connection and its subscription to its devices' commands.
        """
        ids = self.fleet.device_ids
        groups = (
            {device_id: [device_id] for device_id in ids}
            if self.pool is None
            else {f"pool-{j}": ids[j :: self.pool] for j in range(min(self.pool, len(ids)))}
        )
        for name, device_ids in groups.items():
            client = self._client(name, device_ids)
            client.connect(self.host, self.port, keepalive=30)
            self._selector.register(client_socket(client), selectors.EVENT_READ, client)
            self._connections.append(client)
            self._clients.update(dict.fromkeys(device_ids, client))
        deadline = time.monotonic() + timeout
        while len(self._subscribed) < len(self._connections):
            if time.monotonic() > deadline:
                missing = len(self._connections) - len(self._subscribed)
                raise ConnectionError(
                    f"{missing} of {len(self._connections)} clients not connected and "
                    f"subscribed to {self.host}:{self.port} after {timeout:g} s"
                )
            self._write_pending()
            self._service(0.05)

    def _write_pending(self) -> None:
        """Write what paho queued inside a callback (subscriptions, status, PUBACKs)."""
        for client in self._connections:
            if client.want_write():
                client.loop_write()

    def _acknowledge(self) -> None:
        """Apply the commands received so far and publish an ack for each."""
        for ack in self.steering.apply(round(time.time() * 1000)):
            client = self._clients.get(ack.device_id)
            if client is not None:
                topic = topic_for(ack.device_id, Kind.COMMAND_ACK)
                self._last[ack.device_id] = client.publish(topic, _ENCODER.encode(ack), qos=1)
                self.stats.published["command/ack"] += 1

    def _thinned(self, device_id: str, due_ms: int) -> bool:
        """Whether a telemetry reading due at ``due_ms`` is left out for a commanded rate."""
        rate = self.steering.rate_hz.get(device_id)
        if rate is None:
            return False
        if due_ms < self._next_reading.get(device_id, -1.0):
            return True
        self._next_reading[device_id] = due_ms + 1000.0 / rate - _HALF_READING_MS
        return False

    def _service(self, timeout: float) -> None:
        for key, _ in self._selector.select(timeout=max(0.0, timeout)):
            key.data.loop_read()

    def close(self) -> None:
        """Flush and disconnect every client cleanly (devices go offline without a last will)."""
        self._batch.flush()
        for device_id, client in self._clients.items():
            self._last[device_id] = client.publish(
                topic_for(device_id, "status"), _status(device_id, online=False), 1, retain=True
            )
            self.stats.published["status"] += 1
        self._flush(10.0)
        for client in self._connections:
            self._selector.unregister(client_socket(client))
            client.disconnect()
        self._clients.clear()
        self._connections.clear()

    def _flush(self, timeout: float) -> None:
        """Write everything queued and wait for the broker to acknowledge each client's last."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for c in self._connections:
                if c.want_write():
                    c.loop_write()
            if all(info.is_published() for info in self._last.values()):
                return
            self._service(0.01)

    def run(
        self,
        duration_s: float | None = None,
        stop: threading.Event | None = None,
        progress: Callable[[float], None] | None = None,
    ) -> PublishStats:
        """Publish until ``duration_s`` simulated seconds have gone out (or ``stop`` is set).

        Connects first if needed, closes at the end. Returns :attr:`stats`.
        """
        if not self._clients:
            self.connect()
        stream = self.fleet.stream(CHUNK_S)
        queue: list[tuple[int, int, str, bytes]] = []
        order = itertools.count()
        sim0_ms = self.fleet.start_ms + round(self.fleet.time_s * 1000)
        end_ms = sim0_ms + (round(duration_s * 1000) if duration_s is not None else 2**62)
        generated_ms = sim0_ms
        wall0 = time.monotonic()
        last_misc = wall0
        try:
            while not (stop is not None and stop.is_set()):
                now = time.monotonic()
                sim_now = sim0_ms + (now - wall0) * self.speed * 1000
                self._acknowledge()
                while generated_ms <= min(sim_now, end_ms) + CHUNK_S * 1000:
                    chunk = next(stream)
                    for message in chunk.messages():
                        heapq.heappush(queue, (message[0], next(order), message[1], message[2]))
                    if chunk.ground_truth.num_rows:
                        self._record_truth(chunk.ground_truth)
                    generated_ms += round(CHUNK_S * 1000)
                    if progress is not None:
                        progress(CHUNK_S)
                while queue and queue[0][0] <= sim_now and queue[0][0] < end_ms:
                    due, _, topic, payload = heapq.heappop(queue)
                    device_id, kind = topic.split("/")[2:4]
                    if kind == "telemetry" and self._thinned(device_id, due):
                        continue
                    client = self._clients[device_id]
                    if self.qos:
                        self._last[device_id] = client.publish(topic, payload, qos=self.qos)
                    else:
                        self._batch.add(client, topic, payload)
                    self.stats.published[kind] += 1
                    late = now - (wall0 + (due - sim0_ms) / 1000 / self.speed)
                    self.stats.max_late_s = max(self.stats.max_late_s, late)
                self._batch.flush()
                if sim_now >= end_ms and (not queue or queue[0][0] >= end_ms):
                    break
                if now - last_misc >= 1.0:
                    for client in self._connections:
                        client.loop_misc()
                    self._write_pending()
                    last_misc = now
                next_due = queue[0][0] if queue else generated_ms
                wait = (next_due - sim_now) / 1000 / self.speed
                self._service(min(max(wait, 0.0), 0.05))
        finally:
            self.stats.wall_s = time.monotonic() - wall0
            reached_ms = min(end_ms, sim0_ms + self.stats.wall_s * self.speed * 1000)
            self.stats.simulated_s = (reached_ms - sim0_ms) / 1000
            self.close()
        return self.stats
