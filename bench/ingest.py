"""Live ingestion throughput and latency, against a bare paho subscriber, on a local mosquitto.

In one run, on fresh mosquitto brokers, with the same publisher process and the same telemetry
messages at QoS 1:

(a) a bare paho subscriber that only counts messages;
(b) modax ingest (:class:`modax.ingest.Ingester`, default options) until every message is in a
    committed lake table;
(c) modax ingest again with the publisher paced at ``--rate`` msgs/s, measuring each message's
    publish-to-queryable latency (publish time in the payload's ``timestamp`` → end of the lake
    commit that holds it);
(d) the rejection path: ``--reject-messages`` malformed messages (distinct payloads, a mix of
    not JSON, a missing field, a wrong type and an out-of-range current) through
    :meth:`modax.pipeline.Pipeline.process` in batches of 5,000 until quarantined, beside as many
    good ones through the same pipeline;
(e) the same malformed messages through modax ingest, until every one is in a committed
    ``quarantine`` row.

Usage::

    nice python bench/ingest.py [--messages 200000] [--rate 5000] [--latency-messages 50000]
                                [--reject-messages 100000]

The last line printed is one JSON object with msgs/s of (a) and (b), ``ratio_vs_bare_subscriber``
(goal ≥ 0.8) and ``p50_latency_s`` / ``p99_latency_s`` (goal p99 ≤ 1 s at 5,000 msgs/s), plus
each consumer's CPU time per message (robust when other work shares the machine) and the load
average at the end. For the rejection path: ``reject_pipeline_msgs_per_s`` (d) and
``reject_ratio_vs_good``, that rate over modax ingest's good-message rate (b) (goal ≥ 5: the
pipeline clears a flood of bad input five times faster than good input arrives), and
``reject_ingest_msgs_per_s`` (e) with ``ingest_reject_ratio_vs_good`` over (b): through the
ingester both rates are capped by what one paho client receives (a).
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
from modax.pipeline import BatchResult, Pipeline
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


def bad_payloads(n: int) -> list[tuple[str, bytes]]:
    """``n`` distinct malformed messages: not JSON, a missing field, a wrong type, a current out
    of range, in turn, on the devices' telemetry topics."""
    encoder = msgspec.json.Encoder()
    good = payloads(n)
    out = []
    for i, (topic, msg) in enumerate(good):
        msg.timestamp = 1_763_900_000_000 + i
        kind = i % 4
        if kind == 0:
            raw = b"not json %d" % i
        elif kind == 1:
            raw = b'{"device_id": "%s", "seq": %d}' % (msg.device_id.encode(), i)
        elif kind == 2:
            raw = encoder.encode(msg).replace(b'"timestamp":', b'"timestamp":"', 1)
            raw = raw.replace(b',"device_id"', b'","device_id"', 1)
        else:
            msg.motor_currents = [150.0 + i % 100]
            raw = encoder.encode(msg)
        out.append((topic, raw))
    return out


def publish(url: str, n: int, rate: float, bad: bool = False) -> None:
    """Publisher process: ``n`` messages at QoS 1, as fast as possible (``rate`` 0) or paced;
    malformed ones (:func:`bad_payloads`) when ``bad``."""
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
    messages = bad_payloads(n) if bad else payloads(n)
    start = time.time()
    print(f"start {time.monotonic()}", flush=True)
    for i, (topic, msg) in enumerate(messages):
        if rate:
            ahead = start + i / rate - time.time()
            if ahead > 0.005:
                time.sleep(ahead)
        window.acquire()
        if isinstance(msg, bytes):
            client.publish(topic, msg, qos=1)
            continue
        msg.timestamp = time.time_ns() // 1_000_000
        client.publish(topic, encoder.encode(msg), qos=1)
    for _ in range(20_000):
        window.acquire()
    client.disconnect()
    client.loop_stop()


def run_publisher(
    broker: BrokerProcess, n: int, rate: float = 0, bad: bool = False
) -> tuple[subprocess.Popen, float]:
    """Start the publisher process; returns it and the monotonic time of its first publish."""
    proc = subprocess.Popen(
        [sys.executable, __file__, "_publish", broker.url, str(n), str(rate), str(int(bad))],
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


def quarantined(result: BatchResult) -> int:
    """Messages a result put in quarantine."""
    return sum(result.quarantined.values())


def pipeline_rate(messages: list[tuple[str, bytes]], batch: int = 5_000) -> tuple[float, float]:
    """msgs/s of :meth:`Pipeline.process` alone (batches of ``batch``, the ingester's default,
    the kernels' derive step), and its CPU time per message in µs; every message is checked to
    be stored or quarantined."""
    received = time.time_ns() // 1_000_000
    with tempfile.TemporaryDirectory(prefix="bench-lake-") as root:
        pipeline = Pipeline(root)
        total = BatchResult()
        cpu = time.process_time()
        start = time.perf_counter()
        for i in range(0, len(messages), batch):
            chunk = messages[i : i + batch]
            topics = [topic for topic, _ in chunk]
            raws = [raw for _, raw in chunk]
            total.merge(pipeline.process(topics, raws, [received] * len(chunk)))
        elapsed = time.perf_counter() - start
        cpu = time.process_time() - cpu
    if total.accepted + quarantined(total) != len(messages):
        raise RuntimeError(f"the pipeline stored or quarantined {total} of {len(messages)}")
    return len(messages) / elapsed, cpu / len(messages) * 1e6


def good_messages(n: int) -> list[tuple[str, bytes]]:
    """:func:`payloads` as wire bytes, stamped now."""
    encoder = msgspec.json.Encoder()
    now = time.time_ns() // 1_000_000
    out = []
    for topic, msg in payloads(n):
        msg.timestamp = now
        out.append((topic, encoder.encode(msg)))
    return out


def modax_reject(broker: BrokerProcess, n: int) -> tuple[float, float]:
    """msgs/s of modax ingest for malformed messages (publisher start until all ``n`` are in
    committed quarantine rows), and its CPU time per message in µs."""
    with tempfile.TemporaryDirectory(prefix="bench-lake-") as root:
        ingester = Ingester(broker.url, Lake(root)).start()
        ingester.wait_connected()
        cpu = time.process_time()
        publisher, start = run_publisher(broker, n, bad=True)
        wait_for(lambda: quarantined(ingester.totals) >= n, 900, "modax ingest to quarantine")
        elapsed = time.monotonic() - start
        cpu = time.process_time() - cpu
        publisher.wait()
        totals = ingester.stop()
        if quarantined(totals) != n or totals.accepted:
            raise RuntimeError(f"modax ingest quarantined {quarantined(totals)} of {n}")
    return n / elapsed, cpu / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--rate", type=float, default=5_000.0)
    parser.add_argument("--latency-messages", type=int, default=50_000)
    parser.add_argument("--reject-messages", type=int, default=100_000)
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
        r = args.reject_messages
        log(f"(d) the pipeline alone: {r:,} malformed messages, then {r:,} good ones")
        reject, reject_cpu = pipeline_rate(bad_payloads(r))
        good, good_cpu = pipeline_rate(good_messages(r))
        log(f"    malformed {reject:,.0f} msgs/s ({reject_cpu:.1f} µs CPU per message)")
        log(f"    good      {good:,.0f} msgs/s ({good_cpu:.1f} µs CPU per message)")
        log(f"(e) modax ingest, {r:,} malformed messages at QoS 1 to committed quarantine rows")
        with start_broker(free_port(), kind="mosquitto", data_dir=Path(tmp) / "e") as broker:
            ingest_reject, ingest_reject_cpu = modax_reject(broker, r)
        log(f"    {ingest_reject:,.0f} msgs/s, {ingest_reject_cpu:.0f} µs CPU per message")

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
                "reject_messages": r,
                "reject_pipeline_msgs_per_s": round(reject),
                "good_pipeline_msgs_per_s": round(good),
                "reject_pipeline_cpu_us_per_msg": round(reject_cpu, 1),
                "good_pipeline_cpu_us_per_msg": round(good_cpu, 1),
                "reject_ratio_vs_good": round(reject / ours, 3),
                "reject_ingest_msgs_per_s": round(ingest_reject),
                "reject_ingest_cpu_us_per_msg": round(ingest_reject_cpu, 1),
                "ingest_reject_ratio_vs_good": round(ingest_reject / ours, 3),
            }
        )
    )


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "_publish":
        publish(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), sys.argv[5] == "1")
    else:
        main()
