"""Ingest at scale: `modax ingest --shared-group` processes split a broker's load into an S3 lake.

Real parts only: a mosquitto broker, two ``modax ingest`` processes in one MQTT 5
shared-subscription group, and the lake on a local S3 server (moto). Their commits to the same
Delta tables race through S3 conditional writes and are retried, never lost; one of them is killed
with SIGKILL mid-stream and comes back under the same client id for what the broker kept for it.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.request

import pytest
from mqtt_helpers import Publisher, fleet_messages, rows

from modax.lake import Lake
from modax.local import BrokerProcess
from modax.testing import free_port, wait_for

pytestmark = pytest.mark.broker

GROUP = "fleet"


class IngestProcess:
    """One ``modax ingest --shared-group fleet`` child process with its metrics endpoint."""

    def __init__(self, broker: BrokerProcess, lake: str, client_id: str) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            [
                *(sys.executable, "-m", "modax", "ingest", "--broker", broker.url, "--lake", lake),
                *("--shared-group", GROUP, "--client-id", client_id),
                *("--batch-size", "500", "--batch-ms", "200", "--metrics-port", str(self.port)),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self.client_id = client_id

    def wait_ready(self) -> IngestProcess:
        wait_for(self.ready, 60, f"{self.client_id} to be ready", interval=0.2)
        return self

    def _get(self, path: str) -> bytes | None:
        if self.process.poll() is not None:
            raise RuntimeError(f"modax ingest exited: {self.process.stderr.read().decode()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=2) as r:
                return r.read()
        except OSError:
            return None

    def ready(self) -> bool:
        body = self._get("/ready")
        return body is not None and json.loads(body)["ok"]

    def received(self) -> float:
        """Telemetry messages this process received (its Prometheus counter)."""
        body = self._get("/metrics") or b""
        for line in body.decode().splitlines():
            if line.startswith('modax_ingest_received_total{kind="telemetry"}'):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    def stop(self) -> str:
        self.process.send_signal(signal.SIGTERM)
        _, err = self.process.communicate(timeout=60)
        assert self.process.returncode == 0, err.decode()
        return err.decode()


def test_ingesters_in_a_shared_group_store_every_message_once_in_s3(mosquitto_factory, s3_lake):
    broker = mosquitto_factory()
    a, b = IngestProcess(broker, s3_lake, "ingest-a"), IngestProcess(broker, s3_lake, "ingest-b")
    a.wait_ready(), b.wait_ready()
    publisher = Publisher(broker.host, broker.port)
    messages = fleet_messages(2_000, devices=12)
    lake = Lake(s3_lake)

    publisher.wait_acked(publisher.publish(messages[:1_000]))
    wait_for(lambda: rows(lake)[0] >= 1_000, 60, "the first 1000 rows", interval=0.25)
    wait_for(lambda: a.received() + b.received() == 1_000, 30, "both counters", interval=0.25)
    assert a.received() > 0 and b.received() > 0  # the group split the load

    publisher.publish(messages[1_000:])
    a.process.kill()  # SIGKILL mid-stream: what it held uncommitted stays queued for its session
    a.process.wait()
    publisher.wait_acked(2_000)
    a = IngestProcess(broker, s3_lake, "ingest-a").wait_ready()  # same id: its session is back

    wait_for(lambda: rows(lake)[0] >= 2_000, 90, "all 2000 rows", interval=0.5)
    outputs = [a.stop(), b.stop()]
    assert rows(lake) == (2_000, 2_000)
    assert all("stopped cleanly" in out for out in outputs)
    with_commits = [c for c in lake.history("telemetry") if c["operation"] == "WRITE"]
    assert len(with_commits) >= 4  # several commits from both processes, none lost
    publisher.close()
