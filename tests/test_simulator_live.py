"""Live mode and the CLI: real mosquitto broker, real lake."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter

import paho.mqtt.client as mqtt
import pytest
from click.testing import Result
from typer.testing import CliRunner

from modax.cli import app
from modax.lake import Lake
from modax.schema import decode
from modax.testing import wait_for
from simulator import Fleet
from simulator._publish import LivePublisher

pytestmark = pytest.mark.broker


class Recorder:
    """A subscriber that keeps every message on ``modax/devices/{prefix}*``."""

    def __init__(self, host: str, port: int, prefix: str) -> None:
        self.prefix = prefix
        self.messages: list[tuple[str, bytes]] = []
        self._lock = threading.Lock()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"rec-{prefix}")
        self.client.on_message = self._on_message
        subscribed = threading.Event()
        self.client.on_subscribe = lambda *_: subscribed.set()
        self.client.connect(host, port)
        self.client.subscribe("modax/devices/+/+", qos=1)
        self.client.loop_start()
        wait_for(subscribed.is_set, 10.0, "the subscription")

    def _on_message(self, _client, _userdata, message) -> None:
        if message.topic.split("/")[2].startswith(self.prefix):
            with self._lock:
                self.messages.append((message.topic, message.payload))

    def count(self, kind: str) -> int:
        with self._lock:
            return sum(t.endswith(kind) for t, _ in self.messages)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def test_live_mode_delivers_the_expected_valid_messages(mosquitto):
    recorder = Recorder(mosquitto.host, mosquitto.port, "live-")
    start = int(time.time() * 1000)
    fleet = Fleet(n_devices=3, seed=4, scenario="healthy", start=start, prefix="live")
    twin = Fleet(n_devices=3, seed=4, scenario="healthy", start=start, prefix="live")
    expected = Counter(t.split("/")[-1] for _, t, _ in twin.run(5.0).messages())
    stats = LivePublisher(fleet, mosquitto.host, mosquitto.port, speed=10.0, qos=1).run(5.0)
    assert stats.published["telemetry"] == expected["telemetry"] == 150
    assert stats.published["safety"] == expected["safety"]
    wait_for(lambda: recorder.count("telemetry") >= 150, 15.0, "150 telemetry messages")
    wait_for(lambda: recorder.count("status") >= 6, 15.0, "online and offline status")
    recorder.close()
    decoded = [decode(t, p) for t, p in recorder.messages]  # every payload passes the contract
    assert Counter(type(m).__name__ for m in decoded)["Telemetry"] == 150
    seqs = Counter((m.device_id, m.seq) for m in decoded if type(m).__name__ == "Telemetry")
    assert max(seqs.values()) == 1 and len(seqs) == 150
    status = [m for m in decoded if type(m).__name__ == "DeviceStatus"]
    assert {(m.device_id, m.online) for m in status} == {
        (d, online) for d in fleet.device_ids for online in (True, False)
    }


def test_pooled_connections_batch_qos0_messages_and_announce_every_device(mosquitto):
    recorder = Recorder(mosquitto.host, mosquitto.port, "pool-")
    start = int(time.time() * 1000)
    fleet = Fleet(n_devices=5, seed=4, scenario="healthy", start=start, prefix="pool")
    twin = Fleet(n_devices=5, seed=4, scenario="healthy", start=start, prefix="pool")
    sent = [(t, p) for _, t, p in twin.run(3.0).messages()]
    publisher = LivePublisher(fleet, mosquitto.host, mosquitto.port, speed=10.0, qos=0, pool=2)
    publisher.connect()
    assert len({id(c) for c in publisher._clients.values()}) == 2
    stats = publisher.run(3.0)
    assert stats.published["telemetry"] == 150
    wait_for(lambda: recorder.count("telemetry") >= 150, 15.0, "150 telemetry messages")
    wait_for(lambda: recorder.count("status") >= 10, 15.0, "online and offline status")
    recorder.close()
    assert sorted(m for m in recorder.messages if not m[0].endswith("status")) == sorted(sent)
    status = [decode(t, p) for t, p in recorder.messages if t.endswith("status")]
    assert {(m.device_id, m.online) for m in status} == {
        (d, online) for d in fleet.device_ids for online in (True, False)
    }


def test_last_will_announces_a_device_that_dies(mosquitto):
    recorder = Recorder(mosquitto.host, mosquitto.port, "dies-")
    fleet = Fleet(n_devices=1, seed=1, prefix="dies")
    publisher = LivePublisher(fleet, mosquitto.host, mosquitto.port)
    publisher.connect()
    wait_for(lambda: recorder.count("status") >= 1, 10.0, "the online status")
    client = publisher._clients["dies-0000"]
    client.socket().close()  # the connection drops without a DISCONNECT: the broker sends the will
    offline = b'{"device_id":"dies-0000","online":false}'
    wait_for(lambda: ("modax/devices/dies-0000/status", offline) in recorder.messages, 60.0, "will")
    recorder.close()


def test_network_faults_act_on_what_is_published(mosquitto):
    recorder = Recorder(mosquitto.host, mosquitto.port, "dup-")
    start = int(time.time() * 1000)
    fleet = Fleet(n_devices=1, seed=2, scenario="healthy", start=start, prefix="dup")
    fleet.inject(0, "duplicates", start_s=0.0, duration_s=10.0, severity=1.0)
    stats = LivePublisher(fleet, mosquitto.host, mosquitto.port, speed=20.0, qos=1).run(4.0)
    assert stats.published["telemetry"] > 45
    wait_for(lambda: recorder.count("telemetry") >= stats.published["telemetry"], 15.0, "all")
    recorder.close()
    seqs = Counter(decode(t, p).seq for t, p in recorder.messages if t.endswith("telemetry"))
    assert len(seqs) == 40 and sum(seqs.values()) == stats.published["telemetry"]


def modax(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def test_cli_batch_writes_the_lake(lake_dir):
    done = modax(
        "simulate", "--devices", "3", "--duration", "1m", "--seed", "2",
        "--scenario", "mixed-faults", "--lake", str(lake_dir), "--json",
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    lake = Lake(lake_dir)
    assert lake.read("telemetry").num_rows == summary["rows_written"]["telemetry"] == 1800
    assert lake.read("remaining_life").num_rows == 180
    assert lake.read("device_safety").num_rows == summary["rows_written"]["device_safety"] >= 180


def test_cli_live_mode_publishes(mosquitto):
    recorder = Recorder(mosquitto.host, mosquitto.port, "cli-")
    done = modax(
        "simulate", "--devices", "2", "--duration", "3s", "--mqtt", mosquitto.url,
        "--speed", "10", "--qos", "1", "--pool", "1", "--json",
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["published"]["telemetry"] == 60
    assert summary["pool"] == 1 and summary["published"]["status"] == 4
    recorder.close()


def test_cli_rejects_bad_input_with_one_line(lake_dir):
    for args, message in (
        (("--duration", "ten"), "--duration"),
        (("--scenario", "nope"), "no scenario 'nope'"),
        (("--duration", "0.05"), "multiple of 0.1 s"),
        (("--mqtt", "http://x", "--duration", "1"), "--mqtt"),
    ):
        done = modax("simulate", "--lake", str(lake_dir), *args)
        assert done.exit_code != 0
        assert message in done.stderr and "Traceback" not in done.output
        assert done.exception is None or isinstance(done.exception, SystemExit)
