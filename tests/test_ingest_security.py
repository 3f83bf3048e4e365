"""Security with the shipped production config: passwords, ACLs and TLS against the dev CA."""

from __future__ import annotations

import getpass
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from mqtt_helpers import Publisher, make_certs, rows, telemetry

from modax.ingest import Ingester, IngestError, IngestOptions
from modax.lake import Lake
from modax.local import BrokerKind, BrokerProcess, TLSListener, find_mosquitto
from modax.mqtt import BrokerAuth
from modax.schema import topic_for
from modax.testing import free_port, require, wait_for

pytestmark = pytest.mark.broker

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy" / "mosquitto"
PASSWORDS = {"ingester": "ingest-pw", "dashboard": "dash-pw", "dev1": "dev1-pw", "dev2": "dev2-pw"}


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="module")
def production_broker(tmp_path_factory: pytest.TempPathFactory, certs: Path):
    """mosquitto running deploy/mosquitto/mosquitto.conf and acl, paths and ports made local."""
    require(find_mosquitto(), "mosquitto (apt-get install mosquitto)")
    require(shutil.which("mosquitto_passwd"), "mosquitto_passwd (apt-get install mosquitto)")
    home = tmp_path_factory.mktemp("production")
    passwd = home / "passwd"
    for i, (user, password) in enumerate(PASSWORDS.items()):
        create = ["-c"] if i == 0 else []
        subprocess.run(
            ["mosquitto_passwd", *create, "-b", passwd, user, password],
            check=True,
            capture_output=True,
        )
    shutil.copy(DEPLOY / "acl", home / "acl")
    plain, tls_port = free_port(), free_port()
    config = (DEPLOY / "mosquitto.conf").read_text()
    config = config.replace("/mosquitto/config/", f"{home}/").replace(
        "/mosquitto/certs/", f"{certs}/"
    )
    config = config.replace("/mosquitto/data/", f"{home}/")
    config = config.replace("listener 1883 127.0.0.1", f"listener {plain} 127.0.0.1")
    config = re.sub(r"^listener 8883$", f"listener {tls_port} 127.0.0.1", config, flags=re.M)
    (home / "mosquitto.conf").write_text(config + f"user {getpass.getuser()}\n")
    tls = TLSListener(tls_port, certs / "ca.crt", certs / "server.crt", certs / "server.key")
    command = [find_mosquitto(), "-c", str(home / "mosquitto.conf")]
    broker = BrokerProcess(BrokerKind.MOSQUITTO, "127.0.0.1", plain, home, command, tls=tls)
    with broker.start():
        yield broker


def _ingester(broker: BrokerProcess, lake: Lake, **auth: object) -> Ingester:
    return Ingester(
        broker.tls_url,
        lake,
        auth=BrokerAuth(**auth),  # type: ignore[arg-type]
        options=IngestOptions(batch_size=100, batch_s=0.05, client_id=f"ingest-{os.getpid()}"),
    ).start()


@pytest.mark.parametrize(
    ("username", "password"), [("ingester", "wrong"), (None, None), ("nobody", "x")]
)
def test_wrong_or_missing_credentials_are_refused_with_a_clear_error(
    production_broker, certs, tmp_path, username, password
):
    ingester = _ingester(
        production_broker,
        Lake(tmp_path),
        username=username,
        password=password,
        ca_file=str(certs / "ca.crt"),
    )
    with pytest.raises(IngestError, match=r"refused the connection: (Not authorized|Bad user)"):
        ingester.wait_connected()
    assert not ingester.health()[0]
    ingester.stop()


def test_cli_reports_a_refused_password_in_one_line_and_exit_code_3(
    production_broker, certs, tmp_path
):
    env = {**os.environ, "MODAX_MQTT_PASSWORD": "wrong", "MODAX_MQTT_USERNAME": "ingester"}
    result = subprocess.run(
        [
            *(sys.executable, "-m", "modax", "ingest", "--broker", production_broker.tls_url),
            *("--lake", str(tmp_path), "--ca-file", str(certs / "ca.crt")),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 3
    assert "Traceback" not in result.stderr
    error = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(error) == 1
    assert "refused the connection" in error[0]
    assert "'ingester'" in error[0]
    assert "wrong" not in result.stderr  # the password is never printed


def test_tls_with_the_dev_ca_stores_messages_and_the_acl_denies_cross_device_publish(
    production_broker, certs, tmp_path
):
    lake = Lake(tmp_path / "lake")
    ingester = _ingester(
        production_broker,
        lake,
        username="ingester",
        password=PASSWORDS["ingester"],
        ca_file=str(certs / "ca.crt"),
    )
    ingester.wait_connected()
    device = Publisher(
        production_broker.host,
        production_broker.tls.port,
        client_id="dev1",
        username="dev1",
        password=PASSWORDS["dev1"],
        ca_file=certs / "ca.crt",
    )
    # dev1 writes into dev2's topic first (denied), then into its own (allowed).
    device.publish([(topic_for("dev2", "telemetry"), telemetry("dev2", 1))])
    device.publish([(topic_for("dev1", "telemetry"), telemetry("dev1", 1))])
    device.wait_acked(2)
    wait_for(lambda: ingester.totals.received >= 1, 20, "dev1's reading")
    assert device.refused == ["Not authorized"]
    assert ingester.totals.received == 1  # the denied message, sent first, never arrived
    assert lake.read("telemetry", columns=["device_id"])["device_id"].to_pylist() == ["dev1"]
    device.close()
    ingester.stop()


def test_dashboards_may_read_but_not_publish(production_broker, certs):
    dashboard = Publisher(
        production_broker.host,
        production_broker.tls.port,
        client_id="dash",
        username="dashboard",
        password=PASSWORDS["dashboard"],
        ca_file=certs / "ca.crt",
    )
    dashboard.publish([(topic_for("dev1", "telemetry"), telemetry("dev1", 2))])
    dashboard.wait_acked(1)
    assert dashboard.refused == ["Not authorized"]
    dashboard.close()


def test_tls_against_another_ca_fails_verification_with_a_clear_error(production_broker, tmp_path):
    other = make_certs(tmp_path / "other")
    ingester = _ingester(
        production_broker,
        Lake(tmp_path / "lake"),
        username="ingester",
        password=PASSWORDS["ingester"],
        ca_file=str(other / "ca.crt"),
    )
    with pytest.raises(IngestError, match=r"does not verify against .*ca\.crt"):
        ingester.wait_connected()
    ingester.stop()


def test_client_certificates_when_the_broker_requires_them(mosquitto_factory, certs, tmp_path):
    tls = TLSListener(
        free_port(), certs / "ca.crt", certs / "server.crt", certs / "server.key", True
    )
    broker = mosquitto_factory(tls=tls)
    ca = str(certs / "ca.crt")
    without = _ingester(broker, Lake(tmp_path / "a"), ca_file=ca)
    with pytest.raises(IngestError, match="TLS"):
        without.wait_connected()
    without.stop()

    lake = Lake(tmp_path / "b")
    with_cert = _ingester(
        broker,
        lake,
        ca_file=ca,
        cert_file=str(certs / "client.crt"),
        key_file=str(certs / "client.key"),
    )
    with_cert.wait_connected()
    publisher = Publisher(broker.host, broker.port)
    publisher.wait_acked(
        publisher.publish([(topic_for("dev1", "telemetry"), telemetry("dev1", 3))])
    )
    wait_for(lambda: rows(lake) == (1, 1), 20, "the reading over mutual TLS")
    publisher.close()
    with_cert.stop()
    assert json.loads(json.dumps(with_cert.ready()[1]))["last_commit_error"] is None
