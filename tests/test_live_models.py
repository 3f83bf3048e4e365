"""A demo-like run: simulated history → models fitted and promoted → the advisor and the
ingester on a live simulated fleet through mosquitto, with a bad new version on the way."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from mqtt_helpers import JsonListener
from typer.testing import CliRunner

import simulator
from modax.advisory import LiveModels, run_live
from modax.cli import app
from modax.cli._demo import DETECTOR
from modax.config import parse_broker_url
from modax.ingest import Ingester, IngestOptions
from modax.lake import Lake
from modax.mqtt import ClientFactory
from modax.pipeline import Pipeline
from modax.registry import Registry, tracking_store
from modax.testing import wait_for

FAULTY = "sim-0001"  # the demo scenario overloads it within its first minute


def history(lake: Path) -> None:
    """Ten simulated minutes of the demo fleet, an hour ago, with its ground truth."""
    start = datetime.now(UTC) - timedelta(hours=1)
    result = simulator.Fleet(n_devices=3, seed=7, scenario="demo", start=start).run(600)
    Pipeline(lake, derivers=[]).store(result.telemetry, result.device_safety)
    for name in ("ground_truth", "remaining_life"):
        Lake(lake).append(name, result.tables()[name])


def fit(lake: Path, *args: str) -> dict:
    result = CliRunner().invoke(
        app, ["models", "fit", "--lake", str(lake), "--format", "json", *args]
    )
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])["versions"][0]


@pytest.mark.broker
def test_demo_like_run_alerts_and_keeps_the_last_good_model_and_safety_running(
    mosquitto, tmp_path: Path
) -> None:
    lake = tmp_path / "lake"
    history(lake)
    good = fit(lake, "--detector", DETECTOR, "--promote")
    assert good["metrics"]["recall"] > 0.3  # it finds the history's faults left out of its fit
    bad = fit(lake, "--detector", DETECTOR)
    wear = fit(lake, "--kind", "remaining-life", "--model", "modax-stress", "--promote")
    assert wear["kind"] == "remaining-life" and wear["training"]["devices"] == 3
    assert wear["metrics"]["holdout_windows"] > 0 and wear["metrics"]["holdout_rmse_h"] >= 0
    [folder] = Path(tracking_store(str(lake)).artifacts).glob(f"*/{bad['run_id']}/artifacts/model")
    (folder / "model.skops").write_bytes(b"damaged")
    registry = Registry(str(lake))
    broker = parse_broker_url(mosquitto.url)
    listener = JsonListener(broker, "modax/devices/+/advisory", "demo-like-listener")
    received = listener.received
    live = LiveModels.from_registry(registry)
    stop, ready, stats = threading.Event(), threading.Event(), {}
    advisor = threading.Thread(
        target=lambda: stats.update(
            vars(run_live(live, ClientFactory(broker), Lake(lake), batch_s=0.2, refresh_s=0.5,
                          stop=stop, ready=ready))
        )
    )  # fmt: skip
    advisor.start()
    options = IngestOptions(batch_size=500, batch_s=0.1, client_id="demo-like-ingest")
    fleet = None
    try:
        with Ingester(mosquitto.url, Lake(lake), options=options) as ingester:
            ingester.wait_connected()
            assert ready.wait(10)
            registry.promote(good["name"], bad["version"])
            wait_for(lambda: live.errors >= 1, 20, what="the advisor refusing v2")
            assert live.versions["anomaly"] == good["version"]
            assert live.last_error.endswith(f"keeping {good['name']} v{good['version']}")
            fleet = subprocess.Popen(
                [sys.executable, "-m", "modax", "simulate", "--devices", "3", "--mqtt",
                 mosquitto.url, "--scenario", "demo", "--seed", "7", "--start", "now",
                 "--speed", "30", "--duration", "240", "--pool", "1", "--lake", str(lake)],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            )  # fmt: skip
            wait_for(
                lambda: any(m["device_id"] == FAULTY and m["state"] == "raised" for m in received),
                60,
                what=f"an anomaly alert for {FAULTY}",
            )
            wait_for(
                lambda: (
                    Lake(lake).exists("safety_events")
                    and Lake(lake).read("safety_events").num_rows > 0
                ),
                30,
                what="the ingester's safety events while the advisor refuses a model",
            )
            fleet.wait(60)
    finally:
        if fleet is not None and fleet.poll() is None:
            fleet.kill()
        stop.set()
        advisor.join(20)
        listener.stop()
    alert = next(m for m in received if m["state"] == "raised" and m["device_id"] == FAULTY)
    assert alert["advisory"] is True and alert["safety_effect"] == "none"
    assert alert["model"] == good["name"] and alert["recommendations"]
    updates = [m for m in received if m["state"] is None]
    assert {m["device_id"] for m in updates} == {"sim-0000", "sim-0001", "sim-0002"}
    assert stats["model_errors"] == 1 and stats["swaps"] == 0
    estimates = Lake(lake).read("remaining_life_estimates").to_pandas()
    assert set(estimates["model"]) == {wear["name"]} and set(estimates["version"]) == {"1"}
    assert stats["estimates"] == len(estimates)
    falls = {}
    for device, rows in estimates.sort_values("ts").groupby("device_id"):
        assert len(rows) >= 3, device  # a window closes every simulated minute
        published = [m["rul_h"] for m in updates if m["device_id"] == device and m["rul_h"]]
        assert published and set(published) <= set(rows["rul_h"]), device
        falls[device] = published[0] - published[-1]
    # the overloaded motor wears (an estimate is the remaining hours at the current stress, so it
    # may rise a little when a load eases: the run as a whole falls)
    assert falls[FAULTY] > 0, falls
