"""Every MQTT client of modax comes from one factory: each one connects to a TLS listener with a
private CA that demands a client certificate, configured only through ``MODAX_*`` settings."""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from mqtt_helpers import make_certs, rows, telemetry

from modax.advisory import Advisor, load_model, run_live, save_model
from modax.config import Settings, load_settings
from modax.ingest import Ingester, IngestOptions
from modax.lake import Lake
from modax.local import BrokerProcess, TLSListener
from modax.models.anomaly import LevelShiftDetector
from modax.mqtt import BrokerAuth, ClientFactory, MqttError
from modax.schema import topic_for
from modax.testing import free_port, wait_for
from modax.viz import LiveFeed

pytestmark = pytest.mark.broker


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture
def tls_broker(mosquitto_factory, certs: Path) -> BrokerProcess:
    """mosquitto whose TLS listener verifies clients against the private CA."""
    listener = TLSListener(
        free_port(),
        certs / "ca.crt",
        certs / "server.crt",
        certs / "server.key",
        require_certificate=True,
    )
    return mosquitto_factory(tls=listener)


@pytest.fixture
def tls_env(tls_broker: BrokerProcess, certs: Path) -> dict[str, str]:
    """The ``MODAX_*`` variables a user sets for that listener, and nothing else."""
    return {
        "MODAX_BROKER": str(tls_broker.tls_url),
        "MODAX_MQTT_CA_FILE": str(certs / "ca.crt"),
        "MODAX_MQTT_CERT_FILE": str(certs / "client.crt"),
        "MODAX_MQTT_KEY_FILE": str(certs / "client.key"),
    }


@pytest.fixture
def settings(tls_env: dict[str, str]) -> Settings:
    return load_settings(tls_env)


def _connected(factory: ClientFactory, client_id: str, timeout: float = 10.0) -> threading.Event:
    connected = threading.Event()
    client = factory(client_id)
    client.on_connect = lambda c, u, f, reason, p: reason.is_failure or connected.set()
    factory.connect(client)
    client.loop_start()
    connected.wait(timeout)
    client.disconnect()
    client.loop_stop()
    return connected


def test_a_factory_client_connects_with_the_private_ca_and_its_certificate(settings):
    assert _connected(ClientFactory.from_settings(settings), "factory-ok").is_set()


def test_the_listener_refuses_a_client_without_a_certificate(settings):
    factory = ClientFactory.from_settings(settings)
    without = ClientFactory(factory.broker, BrokerAuth(ca_file=factory.auth.ca_file))
    try:  # TLS 1.3 sends the refusal after the handshake: the session just never opens
        refused = not _connected(without, "factory-no-cert", timeout=3).is_set()
    except ssl.SSLError:
        refused = True
    assert refused


def test_a_missing_tls_file_is_named_in_the_error(settings, tmp_path):
    factory = ClientFactory.from_settings(settings)
    missing = str(tmp_path / "nope.crt")
    broken = ClientFactory(factory.broker, BrokerAuth(ca_file=missing))
    with pytest.raises(MqttError, match="cannot load the TLS files"):
        broken("factory-missing-ca")


def test_the_ingester_stores_a_message_over_the_tls_listener(settings, tmp_path):
    lake = Lake(tmp_path / "lake")
    options = IngestOptions(batch_size=10, batch_s=0.05, client_id=f"tls-ingest-{os.getpid()}")
    settings = settings.with_overrides(lake=str(tmp_path / "lake"))
    with Ingester.from_settings(settings, options) as ingester:
        ingester.wait_connected()
        factory = ClientFactory.from_settings(settings)
        device = factory("tls-device")
        factory.connect(device)
        device.loop_start()
        device.publish(topic_for("tls1", "telemetry"), telemetry("tls1", 1), qos=1)
        wait_for(lambda: rows(lake)[0] == 1, 30, "the reading in the lake")
        device.disconnect()
        device.loop_stop()


def test_the_dashboards_feed_connects_over_the_tls_listener(settings):
    feed = LiveFeed(settings).start()
    try:
        wait_for(feed.connected.is_set, 15, "the dashboards' feed to connect")
    finally:
        feed.stop()


def test_the_advisor_connects_over_the_tls_listener(settings, tmp_path):
    rng = np.random.default_rng(1)
    train = np.column_stack([rng.normal(4.0, 0.05, 200), rng.normal(40.0, 0.1, 200)])
    model = save_model(
        LevelShiftDetector(window=5, threshold=4.0, min_duration=3).fit(train),
        tmp_path / "model",
        name="tls-test",
        features=["current_1", "temp_1"],
        training={"rows": 200},
    )
    ready, stop = threading.Event(), threading.Event()
    worker = threading.Thread(
        target=run_live,
        args=(Advisor(load_model(model)), ClientFactory.from_settings(settings), Lake(tmp_path)),
        kwargs={"batch_s": 0.1, "stop": stop, "ready": ready},
    )
    worker.start()
    try:
        assert ready.wait(15), "the advisor did not connect"
    finally:
        stop.set()
        worker.join(15)


def test_modax_simulate_publishes_over_the_tls_listener(tls_env, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODAX_")}
    result = subprocess.run(
        [
            *(sys.executable, "-m", "modax", "simulate", "--devices", "2", "--duration", "1"),
            *("--speed", "10", "--mqtt", tls_env["MODAX_BROKER"], "--json"),
        ],
        env={**env, **tls_env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["published"]["telemetry"] > 0
