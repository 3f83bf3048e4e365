"""The shared live subscription against a real mosquitto: decode, quarantine, events."""

from __future__ import annotations

import msgspec
import paho.mqtt.client as mqtt
import pytest

from modax.config import load_settings
from modax.local import BrokerProcess
from modax.schema import Telemetry, Vibration, topic_for
from modax.testing import wait_for
from modax.viz import LiveFeed, decode_live

T0 = 1_800_000_000_000


@pytest.fixture
def feed(mosquitto: BrokerProcess):
    live = LiveFeed(load_settings({"MODAX_BROKER": mosquitto.url}), check_every_s=0.1).start()
    wait_for(live.connected.is_set, 10, "the dashboard feed to connect")
    yield live
    live.stop()


@pytest.fixture
def publisher(mosquitto: BrokerProcess):
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="test-viz-feed-pub")
    client.connect(mosquitto.host, mosquitto.port)
    client.loop_start()
    yield client
    client.loop_stop()
    client.disconnect()


def telemetry(device: str, seq: int, current: float) -> bytes:
    vib = Vibration(0.0, 0.1, 9.8, 9.8)
    return msgspec.json.encode(Telemetry(T0 + seq, device, [current], vib, [41.0], seq=seq))


def test_valid_messages_reach_the_state_and_malformed_ones_are_quarantined(
    feed: LiveFeed, publisher: mqtt.Client
) -> None:
    publisher.publish(topic_for("vf-1", "telemetry"), telemetry("vf-1", 1, 4.2), qos=1)
    publisher.publish(topic_for("vf-1", "telemetry"), b'{"device_id": "vf-1"', qos=1)
    publisher.publish(topic_for("vf-2", "telemetry"), telemetry("vf-1", 2, 4.2), qos=1)
    publisher.publish(
        topic_for("vf-3", "telemetry"), telemetry("vf-3", 3, 150.0), qos=1
    )  # beyond the ±100 A sensor range
    publisher.publish(
        topic_for("vf-1", "events"),
        b'{"device_id":"vf-1","ts":1800000000005,"kind":"overload","state":"begin","value":12}',
        qos=1,
    )
    fleet = feed.fleet
    wait_for(lambda: fleet.kpis()["quarantined"] == 3, 10, "three quarantined messages")
    wait_for(lambda: fleet.alarms.is_active("vf-1", "overload"), 10, "the overload event")
    assert [d for d in fleet.device_ids() if d.startswith("vf-")] == ["vf-1"]  # not vf-2, vf-3
    assert fleet.row("vf-1")["current_1"] == 4.2
    assert dict(fleet.quarantined) == {
        "not_json": 1,
        "device_id_mismatch": 1,
        "out_of_range": 1,
    }


def test_a_quiet_device_raises_an_inactivity_alarm(feed: LiveFeed, publisher: mqtt.Client) -> None:
    feed.fleet.inactive_after_ms = 300
    publisher.publish(topic_for("vf-quiet", "telemetry"), telemetry("vf-quiet", 1, 3.0), qos=1)
    wait_for(lambda: "vf-quiet" in feed.fleet.device_ids(), 10, "the first reading")
    wait_for(lambda: feed.fleet.row("vf-quiet")["state"] == "inactive", 10, "inactivity")
    assert feed.fleet.alarms.is_active("vf-quiet", "inactive")


def test_last_will_marks_the_device_offline(feed: LiveFeed, mosquitto: BrokerProcess) -> None:
    device = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="vf-will")
    device.will_set(topic_for("vf-will", "status"), b'{"device_id":"vf-will","online":false}', 1)
    device.connect(mosquitto.host, mosquitto.port, keepalive=60)
    device.loop_start()
    device.publish(
        topic_for("vf-will", "telemetry"), telemetry("vf-will", 1, 3.0), qos=1
    ).wait_for_publish()
    wait_for(lambda: "vf-will" in feed.fleet.device_ids(), 10, "the first reading")
    device.loop_stop()
    device._sock.close()  # vanish without DISCONNECT: the broker publishes the last will
    wait_for(lambda: feed.fleet.row("vf-will")["state"] == "offline", 10, "the last will")


def test_decode_live_rejects_bad_events() -> None:
    with pytest.raises(ValueError, match="state"):
        decode_live("modax/devices/m1/events", b'{"device_id":"m1","ts":1,"kind":"x","state":"on"}')
    with pytest.raises(ValueError, match="negative_timestamp"):
        decode_live("modax/devices/m1/advisory", b'{"device_id":"m1","ts":-1}')


def test_events_published_by_the_ingester_decode() -> None:
    from datetime import UTC, datetime

    from modax.ingest import event_payload

    ts = datetime(2026, 1, 1, tzinfo=UTC)
    row = {
        "device_id": "m1",
        "ts": ts,
        "kind": "overload",
        "state": "begin",
        "value": 12.5,
        "threshold": 10.0,
        "date": ts.date(),
    }
    event = decode_live("modax/devices/m1/events", event_payload(row))
    assert (event.ts, event.kind, event.state, event.value) == (
        1767225600000,
        "overload",
        "begin",
        12.5,
    )


#: 2 KB of JSON nested 1,000 levels deep: a recursive decoder raises RecursionError on it.
NESTED = b'{"device_id":"vf-deep","x":' + b"[" * 1000 + b"]" * 1000 + b"}"


def test_a_deeply_nested_payload_does_not_kill_the_feed(
    feed: LiveFeed, publisher: mqtt.Client
) -> None:
    for kind in ("status", "telemetry", "events"):
        publisher.publish(topic_for("vf-deep", kind), NESTED, qos=1)
    publisher.publish(topic_for("vf-after", "telemetry"), telemetry("vf-after", 1, 4.2), qos=1)
    wait_for(lambda: "vf-after" in feed.fleet.device_ids(), 10, "the good message after them")
    assert feed.health
    assert feed.fleet.quarantined["too_deep"] >= 3
    assert "vf-deep" not in feed.fleet.device_ids()


def test_a_dead_client_thread_is_restarted(feed: LiveFeed, publisher: mqtt.Client) -> None:
    feed._client.disconnect()  # the network loop returns: its thread ends
    wait_for(lambda: feed.restarts >= 1, 10, "the feed to restart its client")
    wait_for(lambda: feed.health, 10, "the restarted feed to be healthy")
    publisher.publish(topic_for("vf-again", "telemetry"), telemetry("vf-again", 1, 4.2), qos=1)
    wait_for(lambda: "vf-again" in feed.fleet.device_ids(), 10, "a message after the restart")
