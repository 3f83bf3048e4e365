"""A light MQTT publisher of schema-valid telemetry for dashboard tests and benchmarks.

It stands in for the simulator's live mode where only the wire format matters: N devices, each
a random walk of two motor currents (A), vibration (m/s²) and two temperatures (°C), published
at a fixed rate with a status message (and a last will) per device. ``--overload DEVICE`` drives
one device to 12.5 A after ``--overload-after`` seconds.

    python bench/fleet_publisher.py --broker mqtt://127.0.0.1:1883 --devices 10 --rate 10
"""

from __future__ import annotations

import argparse
import time

import msgspec
import numpy as np
import paho.mqtt.client as mqtt

from modax.config import parse_broker_url
from modax.schema import DeviceStatus, Telemetry, Vibration, topic_for


def device_ids(n: int, prefix: str = "dash") -> list[str]:
    return [f"{prefix}-{i:04d}" for i in range(n)]


def telemetry(device_id: str, seq: int, currents: np.ndarray, temps: np.ndarray) -> bytes:
    vib = Vibration(0.05, -0.04, 9.81, 9.8103)
    msg = Telemetry(
        time.time_ns() // 1_000_000,
        device_id,
        [round(float(c), 3) for c in currents],
        vib,
        [round(float(t), 2) for t in temps],
        seq=seq,
    )
    return msgspec.json.encode(msg)


class FleetPublisher:
    """Publishes readings of ``devices`` devices; one paho client (the devices share it)."""

    def __init__(self, broker: str, devices: list[str], seed: int = 0) -> None:
        url = parse_broker_url(broker)
        self.devices = devices
        self.rng = np.random.default_rng(seed)
        self.currents = np.full((len(devices), 2), 4.0) + self.rng.normal(0, 0.3, (len(devices), 2))
        self.temps = np.full((len(devices), 2), 45.0) + self.rng.normal(0, 2, (len(devices), 2))
        self.seq = 0
        self.overloaded: set[int] = set()
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=f"fleet-publisher-{time.time_ns()}"
        )
        self.client.max_queued_messages_set(0)
        self.client.connect(url.host, url.port, keepalive=30)
        self.client.loop_start()
        for device_id in devices:
            status = DeviceStatus(device_id, online=True, timestamp=time.time_ns() // 1_000_000)
            self.client.publish(topic_for(device_id, "status"), msgspec.json.encode(status), 1)

    def overload(self, device_id: str) -> None:
        self.overloaded.add(self.devices.index(device_id))

    def publish_all(self) -> None:
        """One reading of every device."""
        n = len(self.devices)
        self.currents += self.rng.normal(0, 0.05, (n, 2)) + (4.0 - self.currents) * 0.05
        self.temps += self.rng.normal(0, 0.05, (n, 2)) + (45.0 - self.temps) * 0.02
        self.seq += 1
        for i, device_id in enumerate(self.devices):
            currents = np.full(2, 12.5) if i in self.overloaded else self.currents[i]
            payload = telemetry(device_id, self.seq, currents, self.temps[i])
            self.client.publish(topic_for(device_id, "telemetry"), payload, 0)

    def publish_one(self, device_id: str, currents: list[float]) -> float:
        """Publish one reading with exactly these currents; returns the wall time it left (s)."""
        self.seq += 1
        i = self.devices.index(device_id)
        payload = telemetry(device_id, self.seq, np.asarray(currents), self.temps[i])
        sent = time.time()
        self.client.publish(topic_for(device_id, "telemetry"), payload, 0)
        return sent

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--broker", required=True)
    parser.add_argument("--devices", type=int, default=10)
    parser.add_argument("--prefix", default="dash")
    parser.add_argument("--rate", type=float, default=10.0, help="readings per device per s")
    parser.add_argument("--duration", type=float, default=120.0, help="s, then stop")
    parser.add_argument("--overload", default=None, help="device id to drive into overload")
    parser.add_argument("--overload-after", type=float, default=5.0, help="s")
    args = parser.parse_args()
    publisher = FleetPublisher(args.broker, device_ids(args.devices, args.prefix))
    start = time.monotonic()
    period = 1.0 / args.rate
    tick = 0
    try:
        while (now := time.monotonic()) - start < args.duration:
            if args.overload and now - start >= args.overload_after:
                publisher.overload(args.overload)
            publisher.publish_all()
            tick += 1
            time.sleep(max(0.0, start + tick * period - time.monotonic()))
    finally:
        publisher.close()


if __name__ == "__main__":
    main()
