"""Steering the twin from its device page in real Chromium: ``modax dashboards --basic-auth``,
mosquitto and a live simulated fleet on free ports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator

import pytest

from modax.local import BrokerProcess
from modax.testing import free_port, wait_for
from simulator import FaultKind, Fleet, LivePublisher

pytestmark = pytest.mark.browser

#: Device 1 of seed 1 runs a steady load at 57 % of its rated 6.9 A (see tests/test_twin.py).
DEVICE = "steer-0001"
PASSWORD = "correct horse battery"


def _alive(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.fixture(scope="module")
def fleet(mosquitto: BrokerProcess) -> Iterator[Fleet]:
    fleet = Fleet(n_devices=2, seed=1, prefix="steer", start=int(time.time() * 1000))
    publisher = LivePublisher(fleet, mosquitto.host, mosquitto.port)
    publisher.connect()
    stop = threading.Event()
    thread = threading.Thread(target=publisher.run, kwargs={"stop": stop}, daemon=True)
    thread.start()
    yield fleet
    stop.set()
    thread.join(20.0)


@pytest.fixture(scope="module")
def server(mosquitto: BrokerProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = tmp_path_factory.mktemp("twin-dashboards")
    users = home / "users.json"
    users.write_text(json.dumps({"operator": PASSWORD}))
    env = {
        **os.environ,
        "MODAX_BROKER": mosquitto.url,
        "MODAX_LAKE": str(home / "lake"),
        "MODAX_COOKIE_SECRET": os.urandom(16).hex(),
    }
    port = free_port()
    log = home / "dashboards.log"
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "modax", "dashboards", "--port", str(port)),
            *("--basic-auth", str(users)),
        ],
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(
            lambda: process.poll() is not None or _alive(f"{base}/liveness"), 120, "dashboards"
        )
        assert process.poll() is None, log.read_text()[-3000:]
        yield base
    finally:
        process.terminate()
        process.wait(10)


def test_a_signed_in_user_injects_on_the_device_page_and_sees_the_ack_and_the_alarm(
    page: object, server: str, fleet: Fleet
) -> None:
    page.goto(f"{server}/device?id={DEVICE}")
    assert "/login" in page.url  # anonymous: no page, so no controls
    assert page.get_by_role("button", name="Inject fault").count() == 0
    page.fill("input[name=username]", "operator")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"**/device?id={DEVICE}")
    state = page.locator(".modax-state").first
    wait_for(lambda: state.get_attribute("data-state") == "ok", 30, f"{DEVICE} live and ok")
    page.get_by_role("button", name="Inject fault").click()
    ack = page.locator(".modax-twin-ack")
    ack.get_by_text(f"inject_fault accepted by {DEVICE}").wait_for()
    (injected,) = [
        (sev, end - start)
        for dev, kind, start, end, sev in zip(
            fleet.faults_.device,
            fleet.faults_.kind,
            fleet.faults_.start_s,
            fleet.faults_.end_s,
            fleet.faults_.severity,
            strict=True,
        )
        if dev == 1 and kind == FaultKind.OVERLOAD.code
    ]
    assert injected == (0.8, 300.0)  # the page's defaults: severity 0.8 for 300 s
    wait_for(lambda: state.get_attribute("data-state") == "alarm", 15, f"{DEVICE} in alarm")
