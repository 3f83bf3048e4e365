"""Helpers for tests that talk to a real broker: payloads, a counting publisher, a JSON listener,
lake counts."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from collections.abc import Iterable
from pathlib import Path

import paho.mqtt.client as mqtt
import payloads

from modax.config import BrokerURL
from modax.lake import Lake
from modax.schema import topic_for
from modax.testing import require, wait_for

T0 = 1_763_900_000_000
DEPLOY = Path(__file__).resolve().parent.parent / "deploy" / "mosquitto"


def make_certs(out: Path) -> Path:
    """A private development CA, a broker certificate and a client certificate in ``out``."""
    require(shutil.which("openssl"), "openssl (apt-get install openssl)")
    subprocess.run([DEPLOY / "make-dev-certs.sh", out], check=True, capture_output=True)
    return out


def telemetry(device: str, seq: int, current: float = 4.0) -> bytes:
    """A valid firmware telemetry payload (10 Hz event time from ``T0``)."""
    return payloads.telemetry(
        device, seq, currents=(current, current - 0.1), temperatures=(40.0 + seq % 7,)
    )


def fleet_messages(n: int, devices: int = 4) -> list[tuple[str, bytes]]:
    """``n`` telemetry messages spread over ``devices`` devices, seq unique per device."""
    return [
        (topic_for(f"dev{i % devices}", "telemetry"), telemetry(f"dev{i % devices}", i // devices))
        for i in range(n)
    ]


def overloading_fleet(seconds: int) -> list[tuple[list[str], list[bytes], list[int]]]:
    """``(topics, payloads, received_ms)``: one batch per second of 3 devices at 10 Hz, with
    ``seq`` and NTP time, crossing UTC midnight halfway.

    Each device overloads (current above 10 A) for 2 s every 7 s, so ``safety_events`` has rows.
    """
    midnight = 1_763_942_400_000
    start = midnight - seconds * 500
    batches = []
    for s in range(seconds):
        topics, payloads, received = [], [], []
        for k in range(10):
            n = s * 10 + k
            t = start + n * 100
            for d in range(3):
                msg = json.loads(telemetry(f"m{d}", n))
                msg["timestamp"] = t
                msg["motor_currents"] = [12.0 if (n // 10 + d) % 7 < 2 else 3.0 + k / 10]
                topics.append(f"modax/devices/m{d}/telemetry")
                payloads.append(json.dumps(msg).encode())
                received.append(t + 5)
        batches.append((topics, payloads, received))
    return batches


class Publisher:
    """A paho publisher that counts what the broker acknowledged (QoS 1) and survives restarts.

    Paho keeps unacknowledged QoS 1 messages and sends them again after reconnecting, so a
    broker restart loses nothing on the publishing side either.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        client_id: str = "test-publisher",
        username: str | None = None,
        password: str | None = None,
        ca_file: str | Path | None = None,
        mqtt5: bool = True,
    ) -> None:
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv5 if mqtt5 else mqtt.MQTTv311,
        )
        self.client.max_queued_messages_set(0)
        self.client.max_inflight_messages_set(1000)
        self.client.reconnect_delay_set(0.05, 0.5)
        if username is not None:
            self.client.username_pw_set(username, password)
        if ca_file is not None:
            self.client.tls_set(ca_certs=str(ca_file))
        self.acked = 0
        self.refused: list[str] = []
        # At most 20,000 unacknowledged: paho's packet ids wrap at 65,535 and would collide.
        self._window = threading.Semaphore(20_000)
        self._lock = threading.Lock()
        self.client.on_publish = self._on_publish
        self.connected = threading.Event()
        self.client.on_connect = lambda c, u, f, rc, p: self.connected.set()
        self.client.connect(host, port)
        self.client.loop_start()
        wait_for(self.connected.is_set, 10, "the publisher to connect")

    def _on_publish(self, client, userdata, mid, reason, properties) -> None:
        self._window.release()
        with self._lock:
            self.acked += 1
            if reason.is_failure:
                self.refused.append(reason.getName())

    def publish(self, messages: Iterable[tuple[str, bytes]], qos: int = 1) -> int:
        n = 0
        for topic, payload in messages:
            if qos:
                self._window.acquire()
            self.client.publish(topic, payload, qos=qos)
            n += 1
        return n

    def wait_acked(self, n: int, timeout: float = 30.0) -> None:
        wait_for(lambda: self.acked >= n, timeout, f"the broker to acknowledge {n} messages")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class JsonListener:
    """A paho subscriber keeping the JSON payloads published on ``topic`` (a filter), in order.

    ``received`` fills from paho's network thread; :meth:`stop` disconnects.
    """

    def __init__(self, broker: BrokerURL, topic: str, client_id: str) -> None:
        self.received: list[dict] = []
        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
        self._client.on_message = lambda c, u, m: self.received.append(json.loads(m.payload))
        self._client.connect(broker.host, broker.port)
        self._client.subscribe(topic, qos=1)
        self._client.loop_start()

    def stop(self) -> None:
        self._client.loop_stop()
        self._client.disconnect()


def rows(lake: Lake, table: str = "telemetry") -> tuple[int, int]:
    """``(rows, distinct (device_id, seq))`` of a lake table (``(0, 0)`` before it exists)."""
    if not lake.exists(table):
        return 0, 0
    t = lake.read(table, columns=["device_id", "seq"])
    return t.num_rows, len(set(zip(t["device_id"].to_pylist(), t["seq"].to_pylist(), strict=True)))
