"""Live ingestion against real mosquitto brokers: every message stored once, whatever happens."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute
import pytest
from mqtt_helpers import T0, Publisher, fleet_messages, overloading_fleet, rows, telemetry

import modax
from modax.ingest import Ingester, IngestOptions
from modax.lake import Lake
from modax.local import BrokerProcess
from modax.pipeline import Pipeline
from modax.schema import QUARANTINE_PAYLOAD_BYTES, topic_for
from modax.testing import free_port, wait_for

pytestmark = pytest.mark.broker

FAST = {"batch_size": 500, "batch_s": 0.05}


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    return Lake(tmp_path / "lake")


@pytest.fixture
def ingesters() -> Iterator[Callable[..., Ingester]]:
    """Start in-process ingesters (connected and subscribed); all stopped at the end."""
    started: list[Ingester] = []

    def start(broker: BrokerProcess, lake: Lake, **kwargs: object) -> Ingester:
        options = IngestOptions(**{**FAST, **kwargs.pop("options", {})})  # type: ignore[arg-type]
        ingester = Ingester(broker.url, lake, options=options, **kwargs).start()  # type: ignore[arg-type]
        started.append(ingester)
        ingester.wait_connected()
        return ingester

    yield start
    for ingester in started:
        ingester.stop()


def test_every_published_message_is_stored_exactly_once_and_queryable(
    mosquitto_factory, lake, ingesters
):
    broker = mosquitto_factory()
    ingester = ingesters(broker, lake)
    messages = fleet_messages(3_000)
    safety = json.dumps(
        {
            "timestamp": T0,
            "device_id": "dev0",
            "emergency_stop": False,
            "door_closed": True,
            "overload_detected": False,
            "temperature_ok": True,
            "seq": 1,
        }
    ).encode()
    status = b'{"device_id": "dev1", "online": true}'
    extra = [(topic_for("dev0", "safety"), safety), (topic_for("dev1", "status"), status)]
    publisher = Publisher(broker.host, broker.port)
    sent = publisher.publish(messages + messages[:400] + extra)  # 400 sent twice
    publisher.wait_acked(sent)

    wait_for(lambda: rows(lake) == (3_000, 3_000), 30, "3000 telemetry rows")
    wait_for(lambda: ingester.totals.received == sent, 10, "every message to be processed")
    assert ingester.totals.duplicates == 400
    assert ingester.totals.accepted == 3_002
    con = modax.connect(lake.root)
    assert con.sql(
        "select count(*), count(distinct (device_id, seq)) from telemetry"
    ).fetchall() == [(3_000, 3_000)]
    assert con.sql("select count(*) from device_safety").fetchall() == [(1,)]
    assert con.sql("select device_id from devices").fetchall() == [("dev1",)]
    received = ingester.metrics.registry.get_sample_value(
        "modax_ingest_received_total", {"kind": "telemetry"}
    )
    assert received == 3_400
    publisher.close()


def test_messages_queued_while_the_ingester_is_down_all_arrive(mosquitto_factory, lake, ingesters):
    """More than mosquitto's default max_queued_messages (1000) wait for the persistent session."""
    broker = mosquitto_factory()
    ingesters(broker, lake).stop()  # creates the session and its subscriptions
    publisher = Publisher(broker.host, broker.port)
    publisher.wait_acked(publisher.publish(fleet_messages(2_500)))

    ingesters(broker, lake)
    wait_for(lambda: rows(lake) == (2_500, 2_500), 30, "2500 rows after the restart")
    publisher.close()


def test_a_legacy_device_that_reboots_keeps_both_boots(mosquitto_factory, lake, ingesters):
    """Issue 17 item 2: no ``seq``; since-boot timestamps 100, 200, ... again after a reboot."""
    broker = mosquitto_factory()
    ingester = ingesters(broker, lake)
    boot = []
    for t in range(100, 5_001, 100):
        msg = json.loads(telemetry("old", 0))
        del msg["seq"]
        msg["timestamp"] = t
        boot.append((topic_for("old", "telemetry"), json.dumps(msg).encode()))
    publisher = Publisher(broker.host, broker.port)
    publisher.wait_acked(publisher.publish(boot + boot))
    wait_for(lambda: ingester.totals.received == 100, 20, "all 100 readings to be processed")
    assert (ingester.totals.accepted, ingester.totals.duplicates) == (100, 0)
    assert rows(lake)[0] == 100
    publisher.close()


def test_derived_tables_after_a_failed_commit_equal_a_run_without_it(
    mosquitto_factory, lake, ingesters, tmp_path
):
    """Issue 17 item 3: the lake refuses the new date for a while (a file where its folder goes);
    the ingester retries and the derivers' state survives, so no window is lost or partial."""
    batches = overloading_fleet(20)
    reference = Pipeline(tmp_path / "reference")
    for batch in batches:
        reference.process(*batch)
    reference.close()

    broker = mosquitto_factory()
    ingester = ingesters(broker, lake, options={"reconnect_initial_s": 0.05})
    publisher = Publisher(broker.host, broker.port)
    messages = [
        (t, p) for topics, payloads, _ in batches for t, p in zip(topics, payloads, strict=True)
    ]
    publisher.wait_acked(publisher.publish(messages[:240]))
    wait_for(lambda: rows(lake)[0] == 240, 20, "the readings before midnight")
    obstacle = Path(lake.root) / "telemetry" / "date=2025-11-24"
    obstacle.write_bytes(b"in the way")
    publisher.wait_acked(publisher.publish(messages[240:]))
    failures = ingester.metrics.registry.get_sample_value
    wait_for(lambda: failures("modax_ingest_commit_failures_total") >= 1, 20, "a failed commit")
    obstacle.unlink()
    wait_for(lambda: rows(lake)[0] == 600, 30, "all 600 readings after the retry")
    ingester.stop()
    con, ref = modax.connect(lake.root), modax.connect(tmp_path / "reference")
    for name in ("aggregates_1s", "safety_events"):
        query = f"select * exclude (date) from {name} order by all"
        assert con.sql(query).fetchall() == ref.sql(query).fetchall(), name
    publisher.close()


def test_a_clean_stop_acknowledges_everything_it_committed(mosquitto_factory, lake, ingesters):
    broker = mosquitto_factory()
    first = ingesters(broker, lake)
    publisher = Publisher(broker.host, broker.port)
    publisher.wait_acked(publisher.publish(fleet_messages(1_000)))
    wait_for(lambda: first.totals.received == 1_000, 20, "the first ingester to take all")
    first.stop()

    second = ingesters(broker, lake)
    publisher.wait_acked(1_001 if publisher.publish([fleet_messages(1_001)[-1]]) else 0)
    wait_for(lambda: second.totals.received >= 1, 20, "the marker message")
    assert rows(lake) == (1_001, 1_001)
    # Nothing queued before the marker was redelivered: the first ingester acknowledged it all.
    assert second.totals.received == 1
    assert second.totals.duplicates == 0
    publisher.close()


def _ingest_cli(broker: BrokerProcess, lake: Lake, metrics_port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "MODAX_LOG_FORMAT": "json"}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "modax",
            "ingest",
            "--broker",
            broker.url,
            "--lake",
            lake.root,
            "--batch-size",
            "300",
            "--batch-ms",
            "50",
            "--metrics-port",
            str(metrics_port),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=1) as response:
            return json.load(response)["ok"]
    except OSError:
        return False


def test_kill_9_mid_stream_loses_nothing_and_stores_nothing_twice(mosquitto_factory, lake):
    broker = mosquitto_factory()
    port = free_port()
    proc = _ingest_cli(broker, lake, port)
    wait_for(lambda: _ready(port), 30, "modax ingest to be ready")
    publisher = Publisher(broker.host, broker.port)
    messages = fleet_messages(4_000)
    publisher.publish(messages[:2_000])
    wait_for(lambda: rows(lake)[0] > 0, 30, "the first commits")
    proc.kill()  # SIGKILL: no flush, no acknowledgement of what it held
    proc.wait()
    at_kill = rows(lake)[0]
    publisher.publish(messages[2_000:])
    publisher.wait_acked(4_000)
    assert at_kill < 4_000

    port = free_port()
    proc = _ingest_cli(broker, lake, port)
    try:
        wait_for(lambda: rows(lake)[0] >= 4_000, 60, "all 4000 rows after the restart")
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err.decode()
    assert rows(lake) == (4_000, 4_000)
    assert b"stopped cleanly" in err
    publisher.close()


def test_broker_restart_mid_stream_loses_nothing(mosquitto_factory, lake, ingesters):
    broker = mosquitto_factory()
    ingester = ingesters(broker, lake, options={"reconnect_initial_s": 0.05})
    publisher = Publisher(broker.host, broker.port)
    messages = fleet_messages(4_000)
    publisher.publish(messages[:2_000])
    wait_for(lambda: rows(lake)[0] > 0, 30, "the first commits")
    broker.restart()  # graceful: mosquitto saves its store, including queued messages
    publisher.publish(messages[2_000:])
    publisher.wait_acked(4_000, timeout=60)
    wait_for(lambda: rows(lake)[0] >= 4_000, 60, "all 4000 rows after the broker restart")
    assert rows(lake) == (4_000, 4_000)
    assert ingester.metrics.registry.get_sample_value("modax_ingest_reconnects_total") >= 1
    assert ingester.connected
    publisher.close()


def test_two_ingesters_in_a_shared_group_store_every_message_once(
    mosquitto_factory, lake, ingesters
):
    broker = mosquitto_factory()
    a = ingesters(broker, lake, options={"client_id": "ingest-a", "shared_group": "g"})
    b = ingesters(broker, lake, options={"client_id": "ingest-b", "shared_group": "g"})
    publisher = Publisher(broker.host, broker.port)
    publisher.wait_acked(publisher.publish(fleet_messages(4_000)))
    wait_for(lambda: rows(lake)[0] >= 4_000, 30, "4000 rows")
    wait_for(lambda: a.totals.received + b.totals.received == 4_000, 10, "both to finish")
    assert rows(lake) == (4_000, 4_000)
    assert a.totals.received > 0
    assert b.totals.received > 0
    assert a.totals.duplicates == b.totals.duplicates == 0
    publisher.close()


def test_a_flood_of_malformed_messages_is_quarantined_with_bounded_memory(
    mosquitto_factory, lake, ingesters
):
    broker = mosquitto_factory()
    options = {"batch_size": 200, "max_queued": 400, "max_queued_bytes": 1 << 20}
    ingester = ingesters(broker, lake, options=options)
    topic = topic_for("dev0", "telemetry")
    bad = [(topic, b"not json %d" % i) for i in range(1_500)]
    bad += [(topic, json.dumps({"device_id": "dev0", "seq": i}).encode()) for i in range(1_500)]
    bad += [(topic, b'{"x": "%d%s"}' % (i, b"a" * 100_000)) for i in range(30)]  # oversized
    good = fleet_messages(200)
    publisher = Publisher(broker.host, broker.port)
    sent = publisher.publish(bad[:1_500] + good[:100] + bad[1_500:] + good[100:])
    publisher.wait_acked(sent, timeout=60)

    wait_for(lambda: ingester.totals.received == sent, 60, "every message to be processed")
    assert rows(lake) == (200, 200)
    quarantine = lake.read("quarantine", columns=["reason", "payload", "payload_bytes"])
    reasons = pa.TableGroupBy(quarantine, "reason").aggregate([([], "count_all")]).to_pylist()
    counts = {r["reason"]: r["count_all"] for r in reasons}
    assert counts == {"not_json": 1_500, "missing_field": 1_500, "oversized": 30}
    oversized = quarantine.filter(pa.compute.equal(quarantine["reason"], "oversized"))
    assert {len(p) for p in oversized["payload"].to_pylist()} == {QUARANTINE_PAYLOAD_BYTES}
    assert min(oversized["payload_bytes"].to_pylist()) > 100_000  # the size of the whole
    assert ingester.inbox.high_water <= 400
    assert ingester.inbox.high_water_bytes <= (1 << 20) + 100_010
    assert ingester.health()[0]
    publisher.close()


def test_derived_safety_events_are_published_to_the_device_events_topic(
    mosquitto_factory, lake, ingesters
):
    broker = mosquitto_factory()
    ingesters(broker, lake)  # the default pipeline: the safety kernel derives events
    received: list[tuple[str, dict]] = []
    got = threading.Event()
    listener = Publisher(broker.host, broker.port, client_id="events-listener")

    def on_message(client, userdata, msg):
        received.append((msg.topic, json.loads(msg.payload)))
        got.set()

    listener.client.on_message = on_message
    listener.client.subscribe("modax/devices/+/events", qos=1)
    listener.publish([(topic_for("m7", "telemetry"), telemetry("m7", 1, current=4.0))])
    listener.publish([(topic_for("m7", "telemetry"), telemetry("m7", 2, current=12.5))])
    wait_for(got.is_set, 20, "a published safety event")
    topic, event = received[0]
    assert topic == "modax/devices/m7/events"
    assert (event["device_id"], event["kind"], event["state"]) == ("m7", "overload", "begin")
    assert event["ts"] == T0 + 2 * 100  # the reading's event time, epoch ms
    stored = lake.read("safety_events", columns=["kind", "state"]).to_pylist()
    assert {"kind": "overload", "state": "begin"} in stored
    listener.close()


def test_health_ready_and_metrics_are_served(mosquitto_factory, lake, ingesters):
    from modax.obs import ObsServer

    broker = mosquitto_factory()
    ingester = ingesters(broker, lake)
    server = ObsServer(ingester.metrics.registry, ingester.health, ingester.ready).start()
    publisher = Publisher(broker.host, broker.port)
    publisher.wait_acked(publisher.publish(fleet_messages(50)))
    wait_for(lambda: rows(lake)[0] == 50, 20, "50 rows")

    def metrics_once_counted() -> str:
        with urllib.request.urlopen(f"{server.url}/metrics") as response:
            text = response.read().decode()
        return text if 'modax_ingest_accepted_total{kind="telemetry"} 50.0' in text else ""

    text = wait_for(metrics_once_counted, 10, "the accepted count in /metrics")
    assert "modax_ingest_commit_seconds_bucket" in text
    assert _ready(server.port)
    broker.kill()
    wait_for(lambda: not _ready(server.port), 20, "/ready to turn false without a broker")
    with urllib.request.urlopen(f"{server.url}/health") as response:
        assert json.load(response)["ok"] is True
    server.stop()
    publisher.client.loop_stop()


def _poison() -> list[tuple[str, bytes]]:
    """Messages that once made every commit fail (issue 17): one per device and kind."""
    safety = {
        "timestamp": T0,
        "device_id": "dev0",
        "emergency_stop": False,
        "door_closed": True,
        "overload_detected": False,
        "temperature_ok": True,
        "seq": 2**63,
    }
    far = json.loads(telemetry("dev1", 1))
    return [
        (topic_for("dev0", "telemetry"), telemetry("dev0", 2**63)),
        (topic_for("dev1", "telemetry"), json.dumps({**far, "timestamp": 10**17}).encode()),
        (
            topic_for("dev2", "telemetry"),
            b'{"device_id":"dev2","x":' + b"[" * 1000 + b"]" * 1000 + b"}",
        ),
        (topic_for("dev3", "status"), b'{"device_id":"dev3","online":true,"uptime_ms":%d}' % 2**63),
        (topic_for("dev0", "safety"), json.dumps(safety).encode()),
    ]


def test_poison_messages_among_good_ones_are_quarantined_acknowledged_and_never_redelivered(
    mosquitto_factory, lake, ingesters
):
    broker = mosquitto_factory()
    first = ingesters(broker, lake)
    good = fleet_messages(801)
    publisher = Publisher(broker.host, broker.port)
    sent = publisher.publish(good[:400] + _poison() + good[400:800])
    publisher.wait_acked(sent)
    wait_for(lambda: rows(lake) == (800, 800), 30, "every good message from every device")
    wait_for(lambda: first.totals.received == sent, 10, "every message to be processed")
    assert sum(first.totals.quarantined.values()) == 5
    first.stop()

    second = ingesters(broker, lake)  # the same client id: the broker keeps its session
    publisher.wait_acked(sent + publisher.publish(good[800:]))
    wait_for(lambda: rows(lake) == (801, 801), 30, "the message published after the restart")
    wait_for(lambda: second.totals.received >= 1, 10, "the restarted ingester to count it")
    assert second.totals.received == 1  # nothing was left unacknowledged, the poison neither
    publisher.close()
