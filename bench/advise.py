"""The live advisor with registered models: throughput on one core, publish-to-advice latency,
and the batched advisor against the same models scored one message at a time.

In one run, on a fresh mosquitto broker:

(a) an anomaly detector (``level-shift-fleet`` on four channels) and, when the remaining-life
    scorer is present, the MODAX stress model are registered in a fresh MLflow store and promoted
    to ``live``;
(b) ``modax advise``'s loop (:func:`modax.advisory.run_live` with
    :meth:`~modax.advisory.LiveModels.from_registry`, 0.5 s batches) runs in a process pinned to
    one core while a publisher process sends ``--devices`` devices × 10 Hz for ``--seconds`` s
    (QoS 0, the publish time in each payload's ``timestamp``); a listener takes every advisory
    message's arrival time minus its reading's ``ts`` as the latency;
(c) the same models on the same kind of readings, in-process: the batched path (decode a
    batch, ``Advisor.score``, the remaining-life scorer) against a plain-Python loop that decodes
    one message and scores it on its device's recent history, one message at a time.

Usage::

    nice python bench/advise.py [--devices 1000] [--seconds 30] [--loop-messages 5000]

The last line is one JSON object: ``advisor_readings_per_s`` (readings scored per CPU-second of
the advisor process: what one core sustains), ``offered_readings_per_s`` and ``scored_fraction``
(it kept up when 1.0), ``score_latency_p99_s`` (goal ≤ 1 s), ``ratio_vs_per_message_loop``
(batched over one-at-a-time readings/s, same models, same run) and the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import msgspec
import numpy as np
import paho.mqtt.client as mqtt

FEATURES = ["current_1", "current_2", "temp_1", "vib_mag"]
#: Event time of the first reading of (c), epoch ms (received when its last reading is sent).
T0_MS = 1_763_900_000_000


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def telemetry(device: int, seq: int, ts: int, rng: np.random.Generator) -> bytes:
    from modax.schema import Telemetry, Vibration

    amps = 4.0 + 0.05 * rng.standard_normal(2)
    return msgspec.json.encode(
        Telemetry(
            device_id=f"adv{device:04d}", timestamp=ts, seq=seq,
            motor_currents=[float(amps[0]), float(amps[1])], temperatures=[40.0],
            vibration=Vibration(0.1, 0.0, 9.8, 9.8005),
        )
    )  # fmt: skip


def register(lake: str) -> bool:
    """Register and promote the models; whether a remaining-life model is among them."""
    from modax.models.anomaly import make_detector
    from modax.registry import Registry

    registry = Registry(lake)
    rng = np.random.default_rng(0)
    normal = np.column_stack([rng.normal(4, 0.05, (2000, 2)), np.full((2000, 1), 40.0),
                              rng.normal(9.8, 0.01, (2000, 1))])  # fmt: skip
    detector = make_detector("level-shift-fleet", 0).fit(normal)
    registry.register(detector, name="bench-anomaly", kind="anomaly", features=FEATURES)
    registry.promote("bench-anomaly", "1")
    try:
        import pandas as pd

        from modax.models.wear import STRESS_COLUMNS, RemainingLifeScorer, StressWearModel
    except ImportError:
        return False
    stress = StressWearModel(nominal_life_h=10_000 / 3000).fit(
        pd.DataFrame({name: [1.0] for name in STRESS_COLUMNS})
    )
    features = RemainingLifeScorer(stress, name="bench-rul", version="0").features
    registry.register(stress, name="bench-rul", kind="remaining-life", features=features)
    registry.promote("bench-rul", "1")
    return True


def advisor_process(url: str, lake: str, seconds: float) -> None:
    """Pinned to one core: the advisor's live loop for ``seconds``; prints its stats and CPU."""
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    from modax.advisory import LiveModels, run_live
    from modax.config import parse_broker_url
    from modax.lake import Lake
    from modax.mqtt import ClientFactory
    from modax.registry import Registry

    live = LiveModels.from_registry(Registry(lake))
    ready = threading.Event()
    threading.Thread(target=lambda: (ready.wait(), print("ready", flush=True))).start()
    before = resource.getrusage(resource.RUSAGE_SELF)
    stats = run_live(
        live, ClientFactory(parse_broker_url(url)), Lake(lake), batch_s=0.5,
        duration_s=seconds, ready=ready,
    )  # fmt: skip
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    print(json.dumps({**vars(stats), "cpu_s": cpu}), flush=True)


def publisher_process(url: str, devices: int, seconds: float) -> None:
    """``devices`` × 10 Hz for ``seconds`` at QoS 0, stamped with the publish time."""
    host, port = url.removeprefix("mqtt://").split(":")
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-adv-publisher")
    client.max_queued_messages_set(0)
    client.connect(host, int(port))
    client.loop_start()
    rng = np.random.default_rng(1)
    start = time.time()
    sent = 0
    for tick in range(int(seconds * 10)):
        ahead = start + tick / 10 - time.time()
        if ahead > 0:
            time.sleep(ahead)
        now = time.time_ns() // 1_000_000
        for d in range(devices):
            client.publish(f"modax/devices/adv{d:04d}/telemetry", telemetry(d, tick, now, rng))
        sent += devices
    client.loop_stop()
    client.disconnect()
    print(json.dumps({"sent": sent, "seconds": time.time() - start}), flush=True)


def loop_comparison(lake: str, messages: int, devices: int) -> tuple[float, float]:
    """readings/s of the batched models and of a one-message-at-a-time loop (same models)."""
    from modax.advisory import LiveModels
    from modax.advisory._advisor import with_event_time
    from modax.registry import Registry
    from modax.schema import decode_batch

    rng = np.random.default_rng(2)
    per_device = max(messages // devices, 1)
    batch = [
        (f"modax/devices/adv{d:04d}/telemetry", telemetry(d, s, T0_MS + 100 * s, rng))
        for s in range(per_device)
        for d in range(devices)
    ]
    topics, payloads = [t for t, _ in batch], [p for _, p in batch]
    live = LiveModels.from_registry(Registry(lake))
    assert decode_batch(topics[:1], payloads[:1], [T0_MS]).telemetry.num_rows == 1
    start = time.perf_counter()
    table = decode_batch(topics, payloads, [T0_MS + 100 * per_device] * len(batch)).telemetry
    scored = live.advisor.score(table).num_rows
    if live.remaining_life is not None:
        live.remaining_life.update(with_event_time(table))
    batched = len(batch) / (time.perf_counter() - start)
    if scored != len(batch):
        raise RuntimeError(f"the batched path scored {scored} of {len(batch)} readings")
    loop_live = LiveModels.from_registry(Registry(lake))
    detector = loop_live.advisor.model.detector
    history: dict[str, list[list[float]]] = {}
    start = time.perf_counter()
    for topic, payload in batch:
        message = json.loads(payload)
        row = [
            *message["motor_currents"][:2],
            message["temperatures"][0],
            message["vibration"]["magnitude"],
        ]
        rows = history.setdefault(message["device_id"], [])
        rows.append(row)
        del rows[:-300]
        window = np.asarray(rows)
        detector.score_samples(window)[-1]
        detector.predict(window)[-1]
        if loop_live.remaining_life is not None:
            one = decode_batch([topic], [payload], [T0_MS + 100 * per_device]).telemetry
            loop_live.remaining_life.update(with_event_time(one))
    looped = len(batch) / (time.perf_counter() - start)
    return batched, looped


def main() -> None:
    from modax.local import start_broker
    from modax.testing import free_port

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--loop-messages", type=int, default=5000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        lake = str(Path(tmp) / "lake")
        log("(a) registering the models")
        with_rul = register(lake)
        with start_broker(free_port(), kind="mosquitto", data_dir=Path(tmp) / "b") as broker:
            log(f"(b) advisor on one core, {args.devices} devices × 10 Hz for {args.seconds} s")
            advisor = subprocess.Popen(
                [sys.executable, __file__, "_advise", broker.url, lake, str(args.seconds + 15)],
                stdout=subprocess.PIPE, text=True,
            )  # fmt: skip
            assert advisor.stdout is not None
            if advisor.stdout.readline().strip() != "ready":
                raise RuntimeError("the advisor did not start")
            latencies: list[float] = []
            listener = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-listen")

            def on_message(c: mqtt.Client, u: object, m: mqtt.MQTTMessage) -> None:
                latencies.append(time.time() - json.loads(m.payload)["ts"] / 1000)

            listener.on_message = on_message
            host, port = broker.url.removeprefix("mqtt://").split(":")
            listener.connect(host, int(port))
            listener.subscribe("modax/devices/+/advisory")
            listener.loop_start()
            publisher = subprocess.run(
                [sys.executable, __file__, "_publish", broker.url, str(args.devices),
                 str(args.seconds)],
                capture_output=True, text=True, check=True,
            )  # fmt: skip
            sent = json.loads(publisher.stdout.splitlines()[-1])
            stats = json.loads(advisor.stdout.read().splitlines()[-1])
            advisor.wait()
            listener.loop_stop()
        log(
            f"    {stats['scored']:,} of {sent['sent']:,} readings scored, "
            f"{stats['cpu_s']:.1f} s CPU"
        )
        log(f"(c) batched against one message at a time, {args.loop_messages:,} readings")
        batched, looped = loop_comparison(lake, args.loop_messages, args.devices)
    lat = np.asarray(latencies)
    result = {
        "benchmark": "advise",
        "devices": args.devices,
        "hz": 10,
        "seconds": args.seconds,
        "models": ["anomaly"] + (["remaining-life"] if with_rul else []),
        "offered_readings_per_s": round(sent["sent"] / sent["seconds"]),
        "scored_fraction": round(stats["scored"] / max(sent["sent"], 1), 4),
        "advisor_readings_per_s": round(stats["scored"] / max(stats["cpu_s"], 1e-9)),
        "advisor_cpu_s": round(stats["cpu_s"], 2),
        "advisory_messages": len(lat),
        "score_latency_p50_s": round(float(np.percentile(lat, 50)), 3) if lat.size else None,
        "score_latency_p99_s": round(float(np.percentile(lat, 99)), 3) if lat.size else None,
        "batched_readings_per_s": round(batched),
        "per_message_loop_readings_per_s": round(looped),
        "ratio_vs_per_message_loop": round(batched / looped, 2),
        "load_average_1min": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_advise":
        advisor_process(sys.argv[2], sys.argv[3], float(sys.argv[4]))
    elif len(sys.argv) > 1 and sys.argv[1] == "_publish":
        publisher_process(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
    else:
        main()
