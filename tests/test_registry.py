"""The model registry (a real MLflow SQLite store) and the advisor that runs its `live` alias."""

from __future__ import annotations

import json
import os
import re
import shutil
import threading
from pathlib import Path

import numpy as np
import paho.mqtt.client as mqtt
import payloads
import pytest
import skops.io as sio
from mqtt_helpers import JsonListener
from typer.testing import CliRunner

import modax.registry
import simulator
from modax.advisory import LiveModels, run_live
from modax.cli import app
from modax.config import parse_broker_url
from modax.lake import Lake
from modax.models.anomaly import LevelShiftDetector
from modax.models.wear import rul_windows
from modax.models.wear.live import TELEMETRY_COLUMNS
from modax.models.wear.sim import fit_windows
from modax.mqtt import ClientFactory
from modax.pipeline import Pipeline
from modax.registry import ModelError, Registry, tracking_store
from modax.testing import require, wait_for

T0 = payloads.T0


def reading(device: str, seq: int, current: float) -> bytes:
    return payloads.telemetry(device, seq, currents=(current,), temperatures=(40.0,))


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A lake with 300 normal readings of m1 and its registry store (created once: ~5 s)."""
    root = tmp_path_factory.mktemp("registry") / "lake"
    values = np.random.default_rng(0).normal(4.0, 0.05, 300)
    Pipeline(root, derivers=[]).process(
        ["modax/devices/m1/telemetry"] * 300,
        [reading("m1", i, v) for i, v in enumerate(values)],
        [T0] * 300,
    )
    return root


def cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def fit(lake: Path, name: str, *extra: str) -> dict:
    code, out, err = cli(
        "models", "fit", "--lake", str(lake), "--detector", "level-shift", "--name", name,
        "--feature", "current_1", "--format", "json", *extra,
    )  # fmt: skip
    assert code == 0, err
    return json.loads(out.splitlines()[-1])["versions"][0]


def artifact_folder(lake: Path, run_id: str) -> Path:
    store = Path(tracking_store(str(lake)).artifacts)
    [folder] = store.glob(f"*/{run_id}/artifacts/model")
    return folder


def quantile_rul() -> object:
    """A calibrated quantile remaining-life model (80 % interval) fitted on a short simulated
    run-to-failure fleet."""
    run = simulator.Fleet(n_devices=4, seed=2, scenario="run-to-failure").run(1800)
    return fit_windows(rul_windows(run.telemetry, run.remaining_life), "gbm-quantile")


def test_public_surface_is_pinned() -> None:
    assert sorted(modax.registry.__all__) == [
        "FORMAT_VERSION", "KINDS", "LIVE_ALIAS", "LoadedModel", "ModelError",
        "ModelVersion", "Registry", "TRUSTED_PREFIXES", "TrackingStore", "iso_utc",
        "load_artifact", "save_artifact", "tracking_store",
    ]  # fmt: skip


def test_store_lives_under_the_lake_and_the_env_points_elsewhere(tmp_path: Path) -> None:
    local = tracking_store(str(tmp_path / "lake"), {})
    assert local.uri == f"sqlite:///{tmp_path / 'lake' / '_state' / 'mlflow' / 'mlflow.db'}"
    moved = tracking_store(str(tmp_path / "lake"), {"MODAX_STATE_DIR": str(tmp_path / "st")})
    assert moved.uri == f"sqlite:///{tmp_path / 'st' / 'mlflow' / 'mlflow.db'}"
    assert moved.artifacts == str(tmp_path / "lake" / "_state" / "mlflow" / "artifacts")
    s3 = tracking_store("s3://plant/lake", {"MODAX_STATE_DIR": str(tmp_path / "st")})
    assert s3.uri.startswith(f"sqlite:///{tmp_path / 'st' / 'mlflow'}/") and s3.uri.endswith(".db")
    assert s3.uri != tracking_store("s3://plant/other", {"MODAX_STATE_DIR": "x"}).uri
    remote = tracking_store("s3://plant/lake/", {"MLFLOW_TRACKING_URI": "http://mlflow:5000"})
    assert remote.uri == "http://mlflow:5000"
    assert remote.artifacts == "s3://plant/lake/_state/mlflow/artifacts"


@pytest.mark.broker
def test_fit_register_promote_then_the_advisor_runs_it(mosquitto, lake: Path) -> None:
    first = fit(lake, "ls-trip")
    assert first["kind"] == "anomaly" and first["features"] == ["current_1"]
    assert first["training"]["rows"] == 300 and first["training"]["devices"] == 1
    assert first["training"]["table_version"] == Lake(lake).version("telemetry")
    assert 0.0 <= first["metrics"]["alarm_rate"] < 0.05  # normal data barely alarms
    assert first["aliases"] == []
    code, out, err = cli("models", "promote", "ls-trip", first["version"], "--lake", str(lake))
    assert code == 0 and "live → ls-trip v1" in out, err
    code, out, _ = cli("models", "list", "--lake", str(lake), "--format", "json")
    listed = {(v["name"], v["version"]): v for v in json.loads(out)["versions"]}
    assert listed["ls-trip", "1"]["aliases"] == ["live"]
    broker = parse_broker_url(mosquitto.url)
    listener = JsonListener(broker, "modax/devices/reg1/advisory", "reg-listener")
    received = listener.received
    registry = Registry(str(lake))
    features = list(TELEMETRY_COLUMNS)  # what RemainingLifeScorer reads
    registry.register(quantile_rul(), name="rul-trip", kind="remaining-life", features=features)
    registry.promote("rul-trip", "1")
    live = LiveModels.from_registry(registry, "ls-trip")  # remaining life: the live one
    assert live.describe() == "anomaly ls-trip v1, remaining-life rul-trip v1"
    stop, ready, stats = threading.Event(), threading.Event(), {}
    worker = threading.Thread(
        target=lambda: stats.update(
            vars(run_live(live, ClientFactory(broker), Lake(lake), batch_s=0.1, stop=stop,
                          ready=ready))
        )
    )  # fmt: skip
    worker.start()
    try:
        assert ready.wait(10)
        sender = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="reg-sender")
        sender.connect(broker.host, broker.port)
        sender.loop_start()
        values = np.r_[np.full(40, 4.0), np.full(660, 7.0)]  # 70 s: a wear window closes
        for seq, value in enumerate(values):
            sent = sender.publish(
                "modax/devices/reg1/telemetry", reading("reg1", seq, value), qos=1
            )
        sent.wait_for_publish(20)
        wait_for(lambda: any(m["state"] == "raised" for m in received), 20, what="an alert")
        wait_for(lambda: any(m["rul_h"] for m in received), 20, what="a remaining life")
        sender.loop_stop()
        sender.disconnect()
    finally:
        stop.set()
        worker.join(10)
        listener.stop()
    assert any(m["state"] is None and m["model"] == "ls-trip" for m in received)
    scores = Lake(lake).read("scores")
    assert scores.num_rows == stats["scored"] > 0
    assert set(scores["model"].to_pylist()) == {"ls-trip"}
    [estimate] = Lake(lake).read("remaining_life_estimates").to_pylist()  # one closed window
    assert estimate["model"] == "rul-trip" and estimate["version"] == "1"
    assert estimate["rul_low_h"] <= estimate["rul_h"] <= estimate["rul_high_h"]
    carried = [m for m in received if m["rul_h"]]  # every update after it repeats the latest
    expected = (estimate["rul_low_h"], estimate["rul_h"], estimate["rul_high_h"])
    assert carried and {(m["rul_low_h"], m["rul_h"], m["rul_high_h"]) for m in carried} == {
        expected
    }
    assert all(m["score"] is not None and m["model"] == "ls-trip" for m in carried)


def test_unknown_models_and_versions_fail_in_one_line(lake: Path, tmp_path: Path) -> None:
    code, _, err = cli("advise", "run", "--lake", str(tmp_path / "empty"))
    assert code == 2 and "no anomaly model has the alias 'live'" in err
    assert "modax models fit, then modax models promote NAME VERSION" in err
    fit(lake, "ls-known")
    code, _, err = cli("models", "show", "nope", "--lake", str(lake))
    assert code == 2 and "model 'nope': not registered" in err and len(err.splitlines()) == 1
    code, _, err = cli("models", "promote", "ls-known", "9", "--lake", str(lake))
    assert code == 2 and "model 'ls-known' version 9: no such version (versions: 1)" in err
    code, _, err = cli("advise", "run", "--model", "ls-known", "--lake", str(lake))
    assert code == 2 and "model 'ls-known' alias 'live': not set" in err
    code, _, err = cli("advise", "run", "--model", "ls-known:9", "--lake", str(lake))
    assert code == 2 and "version 9: no such version" in err


def test_damaged_untrusted_old_or_unfit_artifacts_are_refused(lake: Path) -> None:
    registry = Registry(str(lake))
    detector = LevelShiftDetector(window=5).fit(np.random.default_rng(0).normal(4, 0.1, (99, 1)))
    cases = {}
    for case in ("missing", "corrupt", "untrusted", "old-format"):
        version = registry.register(
            detector, name=f"bad-{case}", kind="anomaly", features=["current_1"]
        )
        cases[case] = (version, artifact_folder(lake, version.run_id))
    shutil.rmtree(cases["missing"][1])
    (cases["corrupt"][1] / "model.skops").write_bytes(b"not a zip file")
    sio.dump(os.system, cases["untrusted"][1] / "model.skops")
    meta = json.loads((cases["old-format"][1] / "model.json").read_text())
    (cases["old-format"][1] / "model.json").write_text(json.dumps({**meta, "format": 1}))
    expected = {
        "missing": "model bad-missing v1: its files are missing",
        "corrupt": "model bad-corrupt v1: model.skops cannot be read",
        "untrusted": "model bad-untrusted v1: model.skops holds untrusted type(s) ['posix.system']",
        "old-format": "model bad-old-format v1: model format 1, this modax reads 2",
    }
    for case, message in expected.items():
        with pytest.raises(ModelError, match=re.escape(message)):
            registry.load(f"bad-{case}", "1")
    registry.register(detector, name="bad-feature", kind="anomaly", features=["rpm"])
    registry.promote("bad-feature", "1")
    code, _, err = cli("advise", "run", "--model", "bad-feature", "--lake", str(lake))
    assert code == 2 and "model bad-feature v1: live telemetry has no column(s) ['rpm']" in err
    with pytest.raises(ModelError, match="model bad-corrupt v1: a anomaly model, not remaining"):
        registry.load("bad-corrupt", "1", kind="remaining-life")


def test_a_bad_new_live_version_leaves_the_last_good_one_running(lake: Path) -> None:
    registry = Registry(str(lake))
    good = fit(lake, "ls-swap", "--promote")
    live = LiveModels.from_registry(registry, "ls-swap")
    bad = fit(lake, "ls-swap")
    (artifact_folder(lake, bad["run_id"]) / "model.skops").write_bytes(b"\x00garbage")
    registry.promote("ls-swap", bad["version"])
    live.refresh()
    assert live.versions["anomaly"] == good["version"] and live.errors == 1
    assert live.last_error.startswith("model ls-swap v2: model.skops cannot be read")
    assert live.last_error.endswith("keeping ls-swap v1")
    live.refresh()  # the refused version is not tried again
    assert live.errors == 1
    fixed = fit(lake, "ls-swap", "--promote")
    live.refresh()
    assert live.versions["anomaly"] == fixed["version"] == "3" and live.swaps == 1
    assert live.advisor.model.metadata["version"] == "3"


def test_eval_skab_logs_one_run_with_per_seed_metrics_and_the_leaderboard(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    skab = Path(__file__).resolve().parent.parent / "data" / "skab" / "valve1"
    require((skab / "0.csv").is_file(), "the SKAB sample in data/skab")
    (tmp_path / "skab").mkdir()
    shutil.copy(skab / "0.csv", tmp_path / "skab" / "0.csv")
    monkeypatch.setenv("MODAX_LAKE", str(tmp_path / "lake"))
    code, out, err = cli("eval", "skab", str(tmp_path / "skab"), "-d", "level-shift",
                         "--format", "json")  # fmt: skip
    assert code == 0, err
    report = json.loads(out.splitlines()[-1])["detectors"]["level-shift"]
    registry = Registry(str(tmp_path / "lake"))
    [run] = registry.client.search_runs([registry.experiment("modax-eval-skab")])
    assert run.data.params["files"] == "1" and run.data.params["best"] == "level-shift"
    assert run.data.metrics["level-shift.f1"] == pytest.approx(report["f1"])
    history = registry.client.get_metric_history(run.info.run_id, "level-shift.f1.per_run")
    assert [m.value for m in history] == pytest.approx([report["f1"]])
    [artifact] = registry.client.list_artifacts(run.info.run_id)
    assert artifact.path == "leaderboard.json"
