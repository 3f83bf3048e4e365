"""The steerable twin: commands to a live simulated fleet over a real mosquitto, and their acks."""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import msgspec
import paho.mqtt.client as mqtt
import pytest

from modax.config import load_settings
from modax.lake import Lake
from modax.mqtt import BrokerAuth, ClientFactory
from modax.schema import FAULT_KINDS, CommandAck, SafetyStatus, Telemetry, decode, topic_for
from modax.testing import require, wait_for
from modax.twin import Twin, TwinError
from modax.viz import LiveFeed
from simulator import FaultKind, Fleet, LivePublisher

pytestmark = pytest.mark.broker

ROOT = Path(__file__).resolve().parent.parent

#: Device 1 of seed 1 runs a steady load at 57 % of its rated 6.9 A: an overload is plain to see.
STEADY = "twin-0001"


class Listener:
    """Keeps every message on the fleet's topics (telemetry, safety, acks), with arrival time."""

    def __init__(self, host: str, port: int, name: str) -> None:
        self.messages: list[tuple[float, str, bytes]] = []
        self._lock = threading.Lock()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"listen-{name}")
        self.client.on_message = self._on_message
        subscribed = threading.Event()
        self.client.on_subscribe = lambda *_: subscribed.set()
        self.client.connect(host, port)
        self.client.subscribe([("modax/devices/+/+", 0), ("modax/devices/+/command/ack", 1)])
        self.client.loop_start()
        wait_for(subscribed.is_set, 10.0, "the listener's subscription")

    def _on_message(self, _c: object, _u: object, message: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.messages.append((time.monotonic(), message.topic, message.payload))

    def since(self, t0: float, device_id: str, kind: str) -> list:
        topic = topic_for(device_id, kind)
        with self._lock:
            found = [(t, p) for t, top, p in self.messages if t >= t0 and top == topic]
        if kind == "command/ack":
            return [msgspec.json.decode(p, type=CommandAck) for _, p in found]
        return [decode(topic, p) for _, p in found]

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@dataclass
class LiveTwin:
    fleet: Fleet
    publisher: LivePublisher
    listener: Listener
    twin: Twin
    url: str


@pytest.fixture(scope="module")
def live(mosquitto) -> Iterator[LiveTwin]:
    """Four devices publishing in real time to the session's mosquitto, in a thread."""
    fleet = Fleet(n_devices=4, seed=1, prefix="twin", start=int(time.time() * 1000))
    publisher = LivePublisher(fleet, mosquitto.host, mosquitto.port, speed=1.0)
    listener = Listener(mosquitto.host, mosquitto.port, "twin")
    publisher.connect()
    stop = threading.Event()
    thread = threading.Thread(target=publisher.run, kwargs={"stop": stop}, daemon=True)
    thread.start()
    wait_for(lambda: listener.since(0, STEADY, "telemetry"), 15.0, "the fleet's telemetry")
    with Twin.from_url(mosquitto.url, timeout_s=10.0) as twin:
        yield LiveTwin(fleet, publisher, listener, twin, mosquitto.url)
    stop.set()
    thread.join(20.0)
    listener.close()


def test_an_injected_overload_is_acked_and_the_device_goes_into_overload(live):
    t0 = time.monotonic()
    ack = live.twin.inject(STEADY, "overload", severity=1.0, duration_s=120)
    assert (ack.accepted, ack.type, ack.device_id) == (True, "inject_fault", STEADY)
    assert ack.applies_at is not None and abs(ack.applies_at - ack.timestamp) < 5_000

    def overloaded() -> bool:
        safety = live.listener.since(t0, STEADY, "safety")
        return any(isinstance(m, SafetyStatus) and m.overload_detected for m in safety)

    wait_for(overloaded, 10.0, f"{STEADY} to report overload")
    currents = [max(m.motor_currents) for m in live.listener.since(t0, STEADY, "telemetry")]
    assert max(currents) > 10.0  # above the firmware's overload limit
    # the ack on the wire is the one the API returned
    wait_for(lambda: ack in live.listener.since(t0, STEADY, "command/ack"), 5.0, "the ack")


def test_the_injection_is_in_ground_truth_with_its_time(live):
    ack = live.twin.inject("twin-0003", "bearing_wear", severity=0.4, duration_s=600)
    assert ack.accepted

    def recorded() -> list[dict]:
        rows = live.publisher.ground_truth.to_pylist()
        return [r for r in rows if r["device_id"] == "twin-0003" and r["kind"] == "bearing_wear"]

    (row,) = wait_for(recorded, 10.0, "the injection in ground truth")
    start_ms = round(row["start_ts"].timestamp() * 1000)
    assert start_ms == ack.applies_at
    assert round(row["end_ts"].timestamp() * 1000) - start_ms == 600_000
    assert (row["severity"], row["category"]) == (0.4, "mechanical")


@pytest.mark.parametrize(
    ("payload", "reason", "field"),
    [
        ({"type": "dance"}, "unknown_command", "type"),
        ({"type": "inject_fault", "kind": "gremlins"}, "unknown_value", "kind"),
        ({"type": "inject_fault", "kind": "overload", "severity": 7}, "out_of_range", "severity"),
        ({"type": "reboot", "device_id": "twin-0002"}, "device_id_mismatch", "device_id"),
        ({"type": "inject_fault", "kind": "burst"}, "out_of_range", "duration_s"),
        (b'{"type": "reboot", "command_id": "bad-json"', "not_json", None),
    ],
    ids=[
        "unknown-type",
        "unknown-kind",
        "bad-severity",
        "other-device",
        "endless-burst",
        "malformed",
    ],
)
def test_a_bad_command_is_rejected_with_its_reason_and_changes_nothing(
    live, payload, reason, field
):
    device = "twin-0000"
    if isinstance(payload, dict):
        payload = json.dumps({"device_id": device, "command_id": f"bad-{reason}"} | payload)
    faults, params = len(live.fleet.faults_), live.fleet.params_.copy()
    t0 = time.monotonic()
    live.listener.client.publish(topic_for(device, "command"), payload, qos=1)
    (ack,) = wait_for(lambda: live.listener.since(t0, device, "command/ack"), 10.0, "the ack")
    assert (ack.accepted, ack.reason, ack.field) == (False, reason, field)
    assert ack.detail
    assert ack.command_id == (None if reason == "not_json" else f"bad-{reason}")
    assert len(live.fleet.faults_) == faults
    assert (live.fleet.params_ == params).all()


def test_thresholds_rate_and_motor_are_honoured(live):
    device = "twin-0002"  # cyclic load around 2.6 A: below the default 10 A limit
    assert live.twin.set_thresholds(device, overload_current_a=1.0).accepted
    t0 = time.monotonic()
    wait_for(
        lambda: any(m.overload_detected for m in live.listener.since(t0, device, "safety")),
        10.0,
        "overload at the commanded 1 A threshold",
    )
    rate = live.twin.set_sample_rate(device, 2.0)
    stopped = live.twin.set_motor(device, running=False)
    assert rate.accepted and stopped.accepted

    def after(ms: int) -> list[Telemetry]:
        return [
            m
            for m in live.listener.since(t0, device, "telemetry")
            if isinstance(m, Telemetry) and m.timestamp >= ms
        ]

    readings = wait_for(
        lambda: len(after(stopped.applies_at)) >= 4 and after(stopped.applies_at), 15.0, "readings"
    )
    gaps = {b.timestamp - a.timestamp for a, b in itertools.pairwise(readings)}
    assert gaps == {500}  # 2 Hz, not 10 Hz
    assert max(abs(c) for m in readings for c in m.motor_currents) < 0.5  # motor stopped
    assert live.twin.set_motor(device, running=True).accepted


def test_a_rebooted_twin_is_silent_then_counts_time_from_boot(live):
    device = "twin-0003"
    t0 = time.monotonic()
    ack = live.twin.reboot(device)
    assert ack.accepted

    def since_boot() -> list[Telemetry]:
        readings = live.listener.since(t0, device, "telemetry")
        return [m for m in readings if isinstance(m, Telemetry) and m.timestamp < 10**12]

    first = wait_for(since_boot, 15.0, "a reading timed since boot")[0]
    assert 3_000 <= first.timestamp < 4_000  # silent for the 3 s boot, then ms since boot


def test_fault_kinds_of_the_contract_are_the_simulators():
    assert set(FAULT_KINDS) == {k.value for k in FaultKind} - {"failure"}


def test_a_command_nobody_answers_times_out_with_a_clear_error(live):
    live.twin.timeout_s = 1.0
    try:
        with pytest.raises(TwinError, match="'nobody' did not acknowledge reboot within 1 s"):
            live.twin.reboot("nobody")
    finally:
        live.twin.timeout_s = 10.0


def _modax(*args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "modax", *args], capture_output=True, text=True, timeout=timeout
    )


def test_cli_injects_prints_the_ack_and_fails_on_rejection(live):
    device = "twin-0000"
    faults = len(live.fleet.faults_)
    done = _modax(
        "twin", "inject", device, "spikes", "--severity", "0.5", "--for", "5m",
        "--channel", "current_2", "--broker", live.url, "--format", "json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    ack = json.loads(done.stdout.strip().splitlines()[-1])
    assert (ack["accepted"], ack["type"], ack["device_id"]) == (True, "inject_fault", device)
    assert len(live.fleet.faults_) == faults + 1
    assert live.fleet.faults_.end_s.max() - live.fleet.faults_.start_s.max() >= 300.0

    refused = _modax("twin", "inject", device, "overload", "--severity", "3", "--broker", live.url)
    assert refused.returncode == 1
    assert "rejected: out_of_range: severity: 3 is outside 0…1" in refused.stdout
    assert len(live.fleet.faults_) == faults + 1

    usage = _modax("twin", "set", device, "--load", "0.3", "--motor", "off", "--broker", live.url)
    assert usage.returncode == 2
    assert "give exactly one of" in usage.stderr

    silent = _modax("twin", "reboot", "nobody", "--timeout", "1", "--broker", live.url)
    assert silent.returncode == 1
    assert silent.stderr.count("error:") == 1 and "did not acknowledge" in silent.stderr


def test_a_live_cli_run_writes_injections_to_the_lakes_ground_truth(mosquitto_factory, tmp_path):
    broker = mosquitto_factory()
    listener = Listener(broker.host, broker.port, "cli-truth")
    run = subprocess.Popen(
        [
            sys.executable, "-m", "modax", "simulate", "--devices", "2", "--mqtt", broker.url,
            "--duration", "8s", "--lake", str(tmp_path / "lake"), "--format", "json",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        wait_for(lambda: listener.since(0, "sim-0001", "telemetry"), 30.0, "the CLI's fleet")
        with Twin.from_url(broker.url) as twin:
            ack = twin.inject("sim-0001", "overheating", severity=0.7, duration_s=60)
        stdout, stderr = run.communicate(timeout=60)
    finally:
        run.kill()
        listener.close()
    assert ack.accepted and run.returncode == 0, stderr
    assert json.loads(stdout.strip().splitlines()[-1])["ground_truth_rows"] == 1
    (row,) = Lake(tmp_path / "lake").read("ground_truth").to_pylist()
    assert (row["device_id"], row["kind"], row["severity"]) == ("sim-0001", "overheating", 0.7)
    assert round(row["start_ts"].timestamp() * 1000) == ack.applies_at


def test_the_cli_names_every_fault_kind_in_its_help():
    done = _modax("twin", "inject", "--help")
    assert done.returncode == 0
    text = " ".join(done.stdout.split())
    assert all(kind in text for kind in FAULT_KINDS)


ACL_USERS = {"operator": "op-pw", "dashboard": "dash-pw", "acl-0000": "dev-pw"}


def test_the_shipped_acl_lets_only_operators_command(mosquitto_factory, tmp_path):
    require(shutil.which("mosquitto_passwd"), "mosquitto_passwd (apt-get install mosquitto)")
    passwd = tmp_path / "passwd"
    for i, (user, password) in enumerate(ACL_USERS.items()):
        create = ["-c"] if i == 0 else []
        subprocess.run(["mosquitto_passwd", *create, "-b", passwd, user, password], check=True)
    broker = mosquitto_factory(password_file=passwd, acl_file=ROOT / "deploy/mosquitto/acl")

    def as_user(user: str) -> ClientFactory:
        return ClientFactory.from_url(broker.url, BrokerAuth(user, ACL_USERS[user]))

    def device_client(client_id: str) -> mqtt.Client:  # the device logs in as its own id
        return as_user(client_id.removeprefix("modax-sim-"))(client_id, mqtt5=False)

    fleet = Fleet(n_devices=1, seed=1, prefix="acl", start=int(time.time() * 1000))
    publisher = LivePublisher(fleet, broker.host, broker.port, client_factory=device_client)
    publisher.connect()
    stop = threading.Event()
    thread = threading.Thread(target=publisher.run, kwargs={"stop": stop}, daemon=True)
    thread.start()
    acks: list[bytes] = []
    watcher = as_user("operator")("acl-watcher")
    watcher.on_message = lambda _c, _u, m: acks.append(m.payload)
    watcher.connect(broker.host, broker.port)
    watcher.subscribe("modax/devices/+/command/ack", qos=1)
    watcher.loop_start()
    try:
        refused = pytest.raises(TwinError, match="refused inject_fault to 'acl-0000': Not author")
        with Twin(as_user("dashboard"), timeout_s=3.0) as dashboard, refused:
            dashboard.inject("acl-0000", "overload")
        with Twin(as_user("operator")) as operator:
            ack = operator.inject("acl-0000", "overload", duration_s=10)
        assert ack.accepted
        wait_for(lambda: acks, 5.0, "the operator's ack on the watched topic")
        assert [msgspec.json.decode(p, type=CommandAck).command_id for p in acks] == [
            ack.command_id
        ]  # the dashboard's command never reached the twin: one ack, the operator's
        assert len(fleet.faults_) == 1
    finally:
        watcher.loop_stop()
        stop.set()
        thread.join(20.0)


def test_commands_are_not_quarantined_by_the_dashboards_feed(live, mosquitto):
    feed = LiveFeed(load_settings({"MODAX_BROKER": mosquitto.url}), check_every_s=0.1).start()
    try:
        wait_for(feed.connected.is_set, 10, "the dashboard feed to connect")
        assert live.twin.set_load("twin-0000", 0.6).accepted
        marker = topic_for("twin-0000", "telemetry")
        live.listener.client.publish(marker, b'{"device_id": "twin-0000"', qos=1)
        wait_for(lambda: feed.fleet.quarantined, 10, "the malformed marker in quarantine")
        assert dict(feed.fleet.quarantined) == {"not_json": 1}  # the command is not bad input
    finally:
        feed.stop()
