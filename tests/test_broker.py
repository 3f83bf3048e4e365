"""The local broker: mosquitto with a generated config (nothing dropped, persistence), amqtt."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading

import paho.mqtt.client as mqtt
import pytest
from mqtt_helpers import Publisher, fleet_messages, rows
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from modax.ingest import Ingester, IngestOptions
from modax.lake import Lake
from modax.local import BrokerError, BrokerKind, BrokerProcess, find_mosquitto, start_broker
from modax.testing import free_port, require, wait_for

pytestmark = pytest.mark.broker


class Subscriber:
    """A persistent-session subscriber (MQTT 5, session kept 5 min) that counts messages."""

    def __init__(self, broker: BrokerProcess, client_id: str = "sub") -> None:
        self.broker = broker
        self.client_id = client_id
        self.count = 0
        self.marker = threading.Event()
        self._lock = threading.Lock()
        self.client: mqtt.Client | None = None
        self.connect()

    def _on_message(self, client, userdata, msg) -> None:
        if msg.topic == "modax/marker":
            self.marker.set()
            return
        with self._lock:
            self.count += 1

    def connect(self) -> None:
        subscribed = threading.Event()
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=self.client_id, protocol=mqtt.MQTTv5
        )
        client.on_message = self._on_message
        client.on_subscribe = lambda *a: subscribed.set()
        client.on_connect = lambda c, *a: c.subscribe("modax/#", qos=1)
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 300
        client.connect(self.broker.host, self.broker.port, clean_start=False, properties=props)
        client.loop_start()
        wait_for(subscribed.is_set, 10, "the subscription")
        self.client = client

    def disconnect(self) -> None:
        assert self.client is not None
        self.client.disconnect()
        self.client.loop_stop()


def _queue_while_away(broker: BrokerProcess, n: int, restart: bool = False) -> int:
    """Messages a persistent subscriber gets of ``n`` published while it was disconnected."""
    subscriber = Subscriber(broker)
    subscriber.disconnect()
    publisher = Publisher(broker.host, broker.port)
    publisher.wait_acked(publisher.publish(fleet_messages(n)))
    publisher.close()
    if restart:
        broker.restart()
    subscriber.connect()
    # A marker published now arrives after everything queued before it.
    marker = Publisher(broker.host, broker.port, client_id="marker")
    marker.wait_acked(marker.publish([("modax/marker", b"end")]))
    wait_for(subscriber.marker.is_set, 20, "the marker")
    marker.close()
    subscriber.disconnect()
    return subscriber.count


def test_the_generated_config_drops_nothing_queued_for_a_disconnected_subscriber(
    mosquitto_factory,
):
    assert _queue_while_away(mosquitto_factory(), 2_500) == 2_500


def test_mosquittos_default_queue_limit_would_drop_messages(mosquitto_factory):
    """Why the config raises max_queued_messages: with mosquitto's default, 1000 are kept."""
    assert _queue_while_away(mosquitto_factory(max_queued_messages=1_000), 2_500) < 2_500


def test_queued_messages_survive_a_broker_restart(mosquitto_factory):
    broker = mosquitto_factory()
    assert _queue_while_away(broker, 500, restart=True) == 500
    assert (broker.data_dir / "mosquitto.db").is_file()


def test_a_taken_port_is_a_clear_error(mosquitto):
    with pytest.raises(BrokerError, match=f"127.0.0.1:{mosquitto.port}.*(in use|Error)"):
        start_broker(mosquitto.port, kind="mosquitto")


def test_options_that_need_mosquitto_are_refused_for_amqtt(tmp_path):
    with pytest.raises(BrokerError, match="need mosquitto"):
        start_broker(free_port(), kind="amqtt", password_file=tmp_path / "passwd")


def test_the_ingester_falls_back_to_mqtt_311_for_amqtt(amqtt, tmp_path):
    """amqtt speaks only MQTT 3.1.1: the ingester notices and stores messages all the same."""
    assert amqtt.kind is BrokerKind.AMQTT
    lake = Lake(tmp_path / "lake")
    options = IngestOptions(batch_s=0.05, client_id="ingest-amqtt")
    with Ingester(amqtt.url, lake, options=options) as ingester:
        ingester.wait_connected()
        assert not ingester.mqtt5
        publisher = Publisher(amqtt.host, amqtt.port, client_id="amqtt-pub", mqtt5=False)
        publisher.wait_acked(publisher.publish(fleet_messages(200)))
        wait_for(lambda: rows(lake) == (200, 200), 30, "200 rows through amqtt")
        publisher.close()


@pytest.mark.parametrize("kind", ["mosquitto", "amqtt"])
def test_modax_broker_command_says_what_runs_where_and_stops_on_sigterm(tmp_path, kind):
    if kind == "mosquitto":
        require(find_mosquitto(), "mosquitto (apt-get install mosquitto)")
    port = free_port()
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "modax", "broker", "--port", str(port), "--kind", kind),
            *("--data-dir", str(tmp_path)),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        publisher = wait_for(lambda: _try_publisher(port), 60, f"modax broker on port {port}")
        publisher.wait_acked(publisher.publish([("modax/x", b"1")]))
        publisher.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert f"{kind} listening on mqtt://127.0.0.1:{port}" in " ".join(out.split())
    assert ("crash-safe" in err.lower()) == (kind == "amqtt")


def _try_publisher(port: int) -> Publisher | None:
    try:
        return Publisher("127.0.0.1", port, client_id="cli-check", mqtt5=False)
    except OSError:
        return None


def test_the_generated_config_refuses_packets_over_max_packet_size(mosquitto_factory):
    """A 2 MiB publish ends its sender's connection and reaches no subscriber; 1 MiB is the
    limit (far above modax's 64 KiB payloads, so an oversized one still reaches quarantine)."""
    broker = mosquitto_factory()
    subscriber = Subscriber(broker, client_id="sub-size")
    big = Publisher(broker.host, broker.port, client_id="big")
    lost = threading.Event()
    big.client.on_disconnect = lambda *a: lost.set()
    big.client.publish("modax/big", b"x" * (2 * 1024 * 1024), qos=1)
    wait_for(lost.is_set, 10, "the broker to drop the oversized sender")
    big.close()
    marker = Publisher(broker.host, broker.port, client_id="marker-size")
    marker.wait_acked(marker.publish([("modax/ok", b"y" * (512 * 1024)), ("modax/marker", b"end")]))
    wait_for(subscriber.marker.is_set, 20, "the marker")
    assert subscriber.count == 1  # the 512 KiB message, not the 2 MiB one
    marker.close()
    subscriber.disconnect()
