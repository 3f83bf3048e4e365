"""Steering the live twin: a command's round trip to its ack, against a bare MQTT echo.

A mosquitto on a free port; a live fleet (``simulator.LivePublisher``, real time, 10 Hz per
device) publishing in a thread; then, one after another, ``--commands`` ``set_load`` commands
through :class:`modax.twin.Twin` (publish, the twin decodes, applies before its next chunk and
acks) and as many bare echoes (a paho client that republishes what it receives: the floor any
request/response over the same broker pays). Also reported: how late the fleet's messages went
out while it was steered (``max_late_s``, near 0 when steering costs the publisher nothing).

    .venv/bin/python bench/twin_commands.py                     # 1,000 devices on 10 connections
    .venv/bin/python bench/twin_commands.py --devices 50 --pool 0 --commands 50   # quick

The last line is one JSON object: p50/p95 round trips (ms) of each and ``ratio_vs_echo`` (p50).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time

import numpy as np
import paho.mqtt.client as mqtt
from rich.console import Console

from modax.local import start_broker
from modax.testing import free_port, wait_for
from modax.twin import Twin
from simulator import Fleet, LivePublisher

console = Console(stderr=True)


def _echo_round_trips(host: str, port: int, n: int) -> list[float]:
    """``n`` request/response round trips (QoS 1) through a paho client that echoes, in ms."""
    replies: dict[str, float] = {}
    got = threading.Condition()

    def echo(client: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        client.publish(message.topic.replace("request", "reply"), message.payload, qos=1)

    def reply(_c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        with got:
            replies[message.payload.decode()] = time.perf_counter()
            got.notify_all()

    clients = []
    subscribed = threading.Semaphore(0)
    for name, topic, callback in (
        ("echo", "bench/request/+", echo),
        ("asker", "bench/reply/+", reply),
    ):
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-{name}")
        client.on_message = callback
        client.on_subscribe = lambda *_: subscribed.release()
        client.connect(host, port)
        client.subscribe(topic, qos=1)
        client.loop_start()
        clients.append(client)
    for _ in clients:
        subscribed.acquire(timeout=10.0)
    asker = clients[1]
    times = []
    for i in range(n):
        key = f"r{i}"
        began = time.perf_counter()
        asker.publish(f"bench/request/{i % 10}", key.encode(), qos=1)
        with got:
            got.wait_for(lambda key=key: key in replies, 10.0)
        times.append((replies[key] - began) * 1000)
    for client in clients:
        client.loop_stop()
        client.disconnect()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--pool", type=int, default=10, help="connections (0: one per device)")
    parser.add_argument("--commands", type=int, default=200)
    args = parser.parse_args()

    with (
        tempfile.TemporaryDirectory() as home,
        start_broker(free_port(), kind="mosquitto", data_dir=home) as broker,
    ):
        fleet = Fleet(n_devices=args.devices, seed=3, prefix="bench", start=int(time.time() * 1e3))
        publisher = LivePublisher(
            fleet, broker.host, broker.port, pool=args.pool or None, client_prefix="bench-twin"
        )
        publisher.connect(timeout=120.0)
        stop = threading.Event()
        thread = threading.Thread(target=publisher.run, kwargs={"stop": stop}, daemon=True)
        thread.start()
        wait_for(lambda: publisher.stats.published["telemetry"] > args.devices, 60.0, "the fleet")
        ours = []
        with Twin.from_url(broker.url) as twin:
            rng = np.random.default_rng(0)
            for i in range(args.commands):
                device = fleet.device_ids[int(rng.integers(args.devices))]
                began = time.perf_counter()
                ack = twin.set_load(device, 0.5 + 0.4 * (i % 2))
                ours.append((time.perf_counter() - began) * 1000)
                assert ack.accepted, ack
        echo = _echo_round_trips(broker.host, broker.port, args.commands)
        stop.set()
        thread.join(30.0)
    stats = publisher.stats
    figures = {
        "devices": args.devices,
        "connections": args.pool or args.devices,
        "commands": args.commands,
        "twin_ack_p50_ms": round(float(np.percentile(ours, 50)), 2),
        "twin_ack_p95_ms": round(float(np.percentile(ours, 95)), 2),
        "echo_p50_ms": round(float(np.percentile(echo, 50)), 2),
        "echo_p95_ms": round(float(np.percentile(echo, 95)), 2),
        "ratio_vs_echo": round(float(np.percentile(ours, 50) / np.percentile(echo, 50)), 2),
        "fleet_messages_per_s": round(stats.messages_per_s),
        "max_late_s": round(stats.max_late_s, 3),
    }
    console.print(figures)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
