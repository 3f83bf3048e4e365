"""Live ingestion throughput and latency, against a bare paho subscriber, on a local mosquitto.

In one run, on fresh mosquitto brokers, with the same publisher process and the same telemetry
messages at QoS 1:

(a) a bare paho subscriber that only counts messages;
(b) modax ingest (:class:`modax.ingest.Ingester`, default options) until every message is in a
    committed lake table;
(c) modax ingest again with the publisher paced at ``--rate`` msgs/s, measuring each message's
    publish-to-queryable latency (publish time in the payload's ``timestamp`` → end of the lake
    commit that holds it).

Usage::

    nice python bench/ingest.py [--messages 200000] [--rate 5000] [--latency-messages 50000]

The last line printed is one JSON object with msgs/s of (a) and (b), ``ratio_vs_bare_subscriber``
(goal ≥ 0.8) and ``p50_latency_s`` / ``p99_latency_s`` (goal p99 ≤ 1 s at 5,000 msgs/s), plus
each consumer's CPU time per message (robust when other work shares the machine) and the load
average at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import msgspec
import numpy as np
import paho.mqtt.client as mqtt

from modax.ingest import Ingester
from modax.lake import Lake
from modax.local import BrokerProcess, start_broker
from modax.pipeline import Pipeline
from modax.schema import Telemetry, Vibration, topic_for
from modax.testing import free_port, wait_for

DEVICES = 50


def log(message: str) -> None:
    print(f"[bench/ingest] {message}", file=sys.stderr, flush=True)


def payloads(n: int) -> list[tuple[str, Telemetry]]:
    """``n`` firmware-like readings round-robin over ``DEVICES`` devices (timestamp set later)."""
    rng = np.random.default_rng(0)
    currents = np.round(rng.normal(4.2, 0.3, (n, 2)), 2)
    temps = np.round(rng.normal(45.0, 2.0, (n, 2)), 1)
    vib = np.round(rng.normal(0.0, 0.2, (n, 3)), 3)
    out = []
    for i in range(n):
        dev = f"esp32-{i % DEVICES:03d}"
        x, y, z = vib[i, 0], vib[i, 1], 9.81 + vib[i, 2]
        out.append(
            (
                topic_for(dev, "telemetry"),
                Telemetry(
                    0,
                    dev,
                    currents[i].tolist(),
                    Vibration(
                        float(x),
                        float(y),
                        float(z),
                        round(float(np.sqrt(x * x + y * y + z * z)), 3),
                    ),
                    temps[i].tolist(),
                    seq=i // DEVICES,
                ),
            )
        )
    return out


def publish(url: str, n: int, rate: float) -> None:
    """Publisher process: ``n`` messages at QoS 1, as fast as possible (``rate`` 0) or paced."""
    host, port = url.removeprefix("mqtt://").split(":")
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-publisher")
    # No paho in-flight limit: with one, every PUBACK rescans all outgoing messages for queued
    # ones (paho 2.x `_update_inflight`), which capped this publisher near 4 k msgs/s.
    client.max_inflight_messages_set(0)
    client.max_queued_messages_set(0)
    # At most 20,000 unacknowledged: paho's packet ids wrap at 65,535 and would collide.
    window = threading.Semaphore(20_000)
    client.on_publish = lambda *a: window.release()
    client.connect(host, int(port))
    client.loop_start()
    encoder = msgspec.json.Encoder()
    messages = payloads(n)
    start = time.time()
    print(f"start {time.monotonic()}", flush=True)
    for i, (topic, msg) in enumerate(messages):
        if rate:
            ahead = start + i / rate - time.time()
            if ahead > 0.005:
                time.sleep(ahead)
        window.acquire()
        msg.timestamp = time.time_ns() // 1_000_000
        client.publish(topic, encoder.encode(msg), qos=1)
    for _ in range(20_000):
        window.acquire()
    client.disconnect()
    client.loop_stop()


def run_publisher(broker: BrokerProcess, n: int, rate: float = 0) -> tuple[subprocess.Popen, float]:
    """Start the publisher process; returns it and the monotonic time of its first publish."""
    proc = subprocess.Popen(
        [sys.executable, __file__, "_publish", broker.url, str(n), str(rate)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("start "):
        raise RuntimeError(f"the publisher did not start: {line!r}")
    return proc, float(line.split()[1])


def bare_subscriber(broker: BrokerProcess, n: int) -> tuple[float, float]:
    """msgs/s of a paho subscriber that only counts (publisher start to last message), and its
    CPU time per message in µs."""
    count = 0
    done = threading.Event()
    subscribed = threading.Event()

    def on_message(client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        nonlocal count
        count += 1
        if count == n:
            done.set()

    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2, client_id="bench-bare", protocol=mqtt.MQTTv5
    )
    client.on_message = on_message
    client.on_subscribe = lambda *a: subscribed.set()
    client.connect(broker.host, broker.port)
    client.subscribe("modax/devices/+/telemetry", qos=1)
    client.loop_start()
    wait_for(subscribed.is_set, 10, "the bare subscriber's subscription")
    cpu = time.process_time()
    publisher, start = run_publisher(broker, n)
    done.wait(600)
    elapsed = time.monotonic() - start
    cpu = time.process_time() - cpu
    publisher.wait()
    client.disconnect()
    client.loop_stop()
    if count != n:
        raise RuntimeError(f"bare subscriber got {count} of {n}")
    return n / elapsed, cpu / n * 1e6


class TimedPipeline(Pipeline):
    """The pipeline, noting when each message became queryable (its lake commit ended)."""

    latencies: list[np.ndarray]

    def process(self, topics, payloads, received_at_ms):  # type: ignore[no-untyped-def]
        result = super().process(topics, payloads, received_at_ms)
        committed_ms = time.time() * 1000
        sent = np.array([_STAMP.decode(p).timestamp for p in payloads], dtype=np.float64)
        TimedPipeline.latencies.append((committed_ms - sent) / 1000)
        return result


class _Stamp(msgspec.Struct):
    timestamp: int


_STAMP = msgspec.json.Decoder(_Stamp)


def modax_ingest(
    broker: BrokerProcess, n: int, rate: float = 0, timed: bool = False
) -> tuple[float, float]:
    """msgs/s of modax ingest (publisher start until all ``n`` rows are committed), and its CPU
    time per message in µs."""
    with tempfile.TemporaryDirectory(prefix="bench-lake-") as root:
        lake = Lake(root)
        factory = TimedPipeline if timed else Pipeline
        ingester = Ingester(broker.url, lake, pipeline_factory=factory).start()
        ingester.wait_connected()
        cpu = time.process_time()
        publisher, start = run_publisher(broker, n, rate)
        wait_for(lambda: ingester.totals.accepted >= n, 900, "modax ingest to commit", 0.01)
        elapsed = time.monotonic() - start
        cpu = time.process_time() - cpu
        publisher.wait()
        totals = ingester.stop()
        rows = lake.read("telemetry", columns=["seq"]).num_rows
        if totals.accepted != n or rows != n:
            raise RuntimeError(f"modax ingest stored {rows} rows of {n}")
    return n / elapsed, cpu / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--rate", type=float, default=5_000.0)
    parser.add_argument("--latency-messages", type=int, default=50_000)
    args = parser.parse_args()
    n = args.messages
    payload_bytes = len(msgspec.json.encode(payloads(1)[0][1]))

    with tempfile.TemporaryDirectory() as tmp:
        log(f"(a) bare paho subscriber, {n:,} messages at QoS 1")
        with start_broker(free_port(), kind="mosquitto", data_dir=Path(tmp) / "a") as broker:
            bare, bare_cpu = bare_subscriber(broker, n)
        log(f"    {bare:,.0f} msgs/s, {bare_cpu:.0f} µs CPU per message")
        log(f"(b) modax ingest to committed lake rows, {n:,} messages at QoS 1")
        with start_broker(free_port(), kind="mosquitto", data_dir=Path(tmp) / "b") as broker:
            ours, ours_cpu = modax_ingest(broker, n)
        log(f"    {ours:,.0f} msgs/s, {ours_cpu:.0f} µs CPU per message")
        m = args.latency_messages
        log(f"(c) publish-to-queryable latency at {args.rate:,.0f} msgs/s, {m:,} messages")
        TimedPipeline.latencies = []
        with start_broker(free_port(), kind="mosquitto", data_dir=Path(tmp) / "c") as broker:
            achieved, _ = modax_ingest(broker, m, args.rate, timed=True)
        latencies = np.concatenate(TimedPipeline.latencies)
        p50, p99 = np.percentile(latencies, [50, 99])
        log(f"    p50 {p50:.3f} s, p99 {p99:.3f} s")

    print(
        json.dumps(
            {
                "benchmark": "ingest",
                "messages": n,
                "payload_bytes": payload_bytes,
                "qos": 1,
                "bare_subscriber_msgs_per_s": round(bare),
                "modax_ingest_msgs_per_s": round(ours),
                "ratio_vs_bare_subscriber": round(ours / bare, 3),
                "bare_subscriber_cpu_us_per_msg": round(bare_cpu, 1),
                "modax_ingest_cpu_us_per_msg": round(ours_cpu, 1),
                "cpu_ratio_bare_over_ingest": round(bare_cpu / ours_cpu, 3),
                "load_average_1min": round(os.getloadavg()[0], 2),
                "latency_rate_msgs_per_s": args.rate,
                "latency_messages": m,
                "latency_run_msgs_per_s": round(achieved),
                "p50_latency_s": round(float(p50), 4),
                "p99_latency_s": round(float(p99), 4),
                "max_latency_s": round(float(latencies.max()), 4),
            }
        )
    )


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "_publish":
        publish(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
    else:
        main()
