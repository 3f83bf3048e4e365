"""Live advisory: saved models, recommendations, scores in the lake, alerts on a real broker."""

from __future__ import annotations

import json
import tempfile
import threading
from pathlib import Path

import numpy as np
import paho.mqtt.client as mqtt
import payloads
import pyarrow as pa
import pytest
from mqtt_helpers import JsonListener
from typer.testing import CliRunner

from modax.advisory import (
    SCORES_SCHEMA,
    Advisor,
    LakeWriter,
    ModelError,
    RecommendationRules,
    load_model,
    recommend,
    run_live,
    save_model,
)
from modax.advisory._recommend import (
    STANDARD_GRAVITY_MS2,
    anomaly_advice,
    current_advice,
    temperature_advice,
    vibration_advice,
    wear_advice,
)
from modax.cli import app
from modax.config import parse_broker_url
from modax.kernels.deriver import KernelDeriver
from modax.lake import Lake
from modax.models.anomaly import LevelShiftDetector, PCADetector
from modax.mqtt import ClientFactory
from modax.pipeline import Pipeline
from modax.schema import UTC_MS
from modax.testing import wait_for

T0 = 1_763_900_000_000
FEATURES = ["current_1", "temp_1"]


def telemetry_payload(device: str, seq: int, current: float, temp: float = 40.0) -> bytes:
    return payloads.telemetry(
        device, seq, currents=(current,), temperatures=(temp,), vibration=(0.1, 0.1, 9.8, 9.8)
    )


def safety_payload(device: str, seq: int) -> bytes:
    return payloads.safety(device, seq)


def currents(n: int, shift_at: int | None = None, seed: int = 0) -> np.ndarray:
    values = np.random.default_rng(seed).normal(4.0, 0.05, n)
    if shift_at is not None:
        values[shift_at:] += 3.0
    return values


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    rng = np.random.default_rng(1)
    train = np.column_stack([rng.normal(4.0, 0.05, 300), rng.normal(40.0, 0.1, 300)])
    detector = LevelShiftDetector(window=5, threshold=4.0, min_duration=3).fit(train)
    return save_model(
        detector,
        tmp_path / "model",
        name="level-shift-test",
        features=FEATURES,
        training={"rows": 300, "start": T0, "end": T0 + 30_000, "devices": ["m1"]},
        metrics={"f1": 0.8},
    )


def test_saved_model_round_trip_keeps_metadata_and_predictions(model_dir: Path) -> None:
    model = load_model(model_dir)
    meta = json.loads((model_dir / "model.json").read_text())
    assert meta["features"] == FEATURES and meta["advisory"] is True
    assert meta["training"]["start"].startswith("2025-11-23T")  # ms epoch stored as ISO UTC
    assert meta["detector"]["class"] == "LevelShiftDetector"
    assert meta["detector"]["params"]["window"] == 5
    probe = np.column_stack([currents(50, shift_at=20), np.full(50, 40.0)])
    fresh = LevelShiftDetector(window=5, threshold=4.0, min_duration=3)
    rng = np.random.default_rng(1)
    fresh.fit(np.column_stack([rng.normal(4.0, 0.05, 300), rng.normal(40.0, 0.1, 300)]))
    np.testing.assert_array_equal(model.detector.predict(probe), fresh.predict(probe))


def test_saving_and_loading_bad_models_fails_clearly(tmp_path: Path, model_dir: Path) -> None:
    with pytest.raises(ModelError, match="not fitted"):
        save_model(PCADetector(), tmp_path / "x", name="x", features=["a"])
    fitted = PCADetector().fit(np.random.default_rng(0).normal(size=(50, 2)))
    with pytest.raises(
        ModelError, match="features names 1 columns but the detector was fitted on 2"
    ):
        save_model(fitted, tmp_path / "x", name="x", features=["a"])
    with pytest.raises(ModelError, match=r"no model\.json"):
        load_model(tmp_path / "nowhere")
    meta = json.loads((model_dir / "model.json").read_text())
    del meta["features"]
    (model_dir / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="lacks the field 'features'"):
        load_model(model_dir)


def test_recommendations_carry_their_evidence() -> None:
    advice = recommend(
        {
            "current_1": np.array([7.0, 7.5]),
            "current_2": np.array([4.0, 4.5]),
            "vib_mag": np.array([9.8 + 6.0, 9.8 - 6.2]),  # 1 g plus a 6 m/s² swing
            "temp_1": np.array([55.0, 65.0]),
        },
        anomaly_ratio=2.5,
        wear_level=0.85,
    )
    codes = [r.code for r in advice]
    assert codes[:3] == ["schedule_maintenance", "improve_cooling", "maintain_now"]  # urgent
    assert {"check_motor_binding", "investigate_anomaly"} <= set(codes)
    assert "reduce_load" not in codes  # mean of the motors is 5.75 A, under 6 A
    binding = next(r for r in advice if r.code == "check_motor_binding")
    assert binding.evidence == {"imbalance_a": 3.0, "limit_a": 1.5}
    assert recommend({"current_1": np.array([4.0])}, anomaly_ratio=0.5) == []


def test_vibration_advice_ignores_gravity_and_finds_the_shaking_axis() -> None:
    rng = np.random.default_rng(0)
    at_rest = {
        "vib_x": rng.normal(0.0, 0.05, 100),
        "vib_y": rng.normal(0.0, 0.05, 100),
        "vib_z": rng.normal(9.81, 0.05, 100),
    }
    at_rest["vib_mag"] = np.sqrt(sum(v**2 for v in at_rest.values()))
    assert recommend(at_rest) == []  # 1 g on z is not vibration
    shaking = dict(at_rest, vib_x=rng.normal(0.0, 4.0, 100))
    shaking["vib_mag"] = np.sqrt(
        shaking["vib_x"] ** 2 + at_rest["vib_y"] ** 2 + at_rest["vib_z"] ** 2
    )
    advice = {r.code: r for r in recommend(shaking)}
    assert "Dominant X-axis" in advice["check_alignment"].message
    assert advice["check_alignment"].evidence["std_x_ms2"] > 3.0
    assert {"rebalance", "schedule_maintenance"} & set(advice)


def test_current_advice_reads_only_the_currents() -> None:
    rules = RecommendationRules()
    window = {
        "current_1": np.array([7.0, 12.0]),  # mean 9.5 A, a 12 A spike
        "current_2": np.array([4.0, 4.5]),  # mean 4.25 A
        "temp_1": np.array([99.0]),
    }
    advice = current_advice(window, rules)
    assert [r.code for r in advice] == ["reduce_load", "check_motor_binding", "smooth_acceleration"]
    assert advice[0].evidence == {"mean_current_a": 6.875, "limit_a": 6.0}
    assert advice[1].evidence == {"imbalance_a": 5.25, "limit_a": 1.5}
    assert advice[2].evidence == {
        "peak_current_a": 12.0,
        "mean_current_a": 6.875,
        "ratio_limit": 1.5,
    }
    assert (
        current_advice({"current_1": np.array([np.nan]), "temp_1": np.array([99.0])}, rules) == []
    )


def test_vibration_advice_takes_the_most_urgent_tier_of_the_magnitude() -> None:
    rules = RecommendationRules()

    def swing(amplitude: float) -> dict[str, np.ndarray]:
        return {"vib_mag": STANDARD_GRAVITY_MS2 + np.array([amplitude, -amplitude])}

    elevated = vibration_advice(swing(4.0), rules)
    assert [(r.code, r.evidence) for r in elevated] == [
        ("rebalance", {"vibration_rms_ms2": 4.0, "limit_ms2": 3.0})
    ]
    assert [r.code for r in vibration_advice(swing(6.0), rules)] == ["schedule_maintenance"]
    assert vibration_advice(swing(2.0), rules) == []
    assert vibration_advice({"current_1": np.array([9.0])}, rules) == []


def test_temperature_advice_judges_the_hottest_reading_and_the_swing() -> None:
    rules = RecommendationRules()
    window = {"temp_1": np.array([40.0, 58.0]), "temp_2": np.array([30.0, 30.0])}
    advice = temperature_advice(window, rules)
    assert [(r.code, r.evidence) for r in advice] == [
        ("monitor_temperature", {"max_temperature_c": 58.0, "limit_c": 50.0}),
        ("thermal_management", {"max_minus_mean_c": 18.5, "limit_c": 15.0}),
    ]
    hot = temperature_advice({"temp_1": np.array([61.0, 61.0])}, rules)
    assert [r.code for r in hot] == ["improve_cooling"]
    assert temperature_advice({"vib_mag": np.array([30.0])}, rules) == []


def test_wear_and_anomaly_advice_need_their_figures() -> None:
    rules = RecommendationRules()
    assert wear_advice(None, rules) == [] and wear_advice(0.5, rules) == []
    assert [r.code for r in wear_advice(0.7, rules)] == ["plan_maintenance"]
    assert [(r.code, r.evidence) for r in wear_advice(0.9, rules)] == [
        ("maintain_now", {"wear_level": 0.9, "limit": 0.8})
    ]
    assert anomaly_advice(None) == [] and anomaly_advice(1.0) == []
    assert [(r.code, r.evidence) for r in anomaly_advice(1.2)] == [
        ("investigate_anomaly", {"score_over_threshold": 1.2, "limit": 1.0})
    ]


def test_advisor_in_the_pipeline_writes_scores_and_never_touches_safety(
    model_dir: Path, lake_dir: Path
) -> None:
    sent: list[tuple[str, bytes]] = []
    advisor = Advisor(load_model(model_dir), publish=lambda t, p: sent.append((t, p)))
    with_advice = Pipeline(lake_dir / "a", derivers=[KernelDeriver(), advisor])
    without = Pipeline(lake_dir / "b", derivers=[KernelDeriver()])
    values = currents(200, shift_at=120)
    for start in range(0, 200, 50):  # four batches: history carries across them
        topics, payloads = [], []
        for seq in range(start, start + 50):
            topics += ["modax/devices/m1/telemetry", "modax/devices/m1/safety"]
            payloads += [telemetry_payload("m1", seq, values[seq]), safety_payload("m1", seq)]
        received = [T0 + start * 100] * len(topics)
        result = with_advice.process(topics, payloads, received)
        without.process(topics, payloads, received)
        assert result.rows["scores"] == 50
    scores = Lake(lake_dir / "a").read("scores").sort_by("seq")
    assert scores.schema.field("score").type == pa.float64()
    assert scores["advisory"].to_pylist() == [True] * 200
    alarms = np.array(scores["alarm"].to_pylist())
    assert not alarms[:115].any() and alarms[130:].all()
    # the advice never reaches safety: same device_safety rows, no safety tables of its own
    a, b = Lake(lake_dir / "a"), Lake(lake_dir / "b")
    assert (
        a.read("device_safety")
        .sort_by("seq")
        .drop_columns(["date"])
        .equals(b.read("device_safety").sort_by("seq").drop_columns(["date"]))
    )
    assert set(a.tables()) - set(b.tables()) == {"scores"}
    assert [t for t, _ in sent] == ["modax/devices/m1/advisory"]
    alert = json.loads(sent[0][1])
    assert alert["state"] == "raised" and alert["advisory"] is True
    assert alert["safety_effect"] == "none" and alert["ts"] >= T0 + 120 * 100
    assert "investigate_anomaly" in [r["code"] for r in alert["recommendations"]]


def test_advisor_scores_devices_separately_and_skips_incomplete_rows(model_dir: Path) -> None:
    advisor = Advisor(load_model(model_dir))
    n = 60
    batch = pa.table(
        {
            "device_id": ["m1"] * n + ["m2"] * n,
            "seq": list(range(n)) * 2,
            "timestamp": [T0 + 100 * i for i in range(n)] * 2,
            "current_1": [*currents(n), *currents(n, shift_at=0)],
            "temp_1": [40.0] * (2 * n - 1) + [None],
        }
    )
    scores = advisor.score(batch)
    assert scores.schema == SCORES_SCHEMA
    assert scores.num_rows == 2 * n - 1  # the reading without temp_1 is not scored
    by_device = {
        d: np.array(scores.filter(pa.compute.equal(scores["device_id"], d))["alarm"].to_pylist())
        for d in ("m1", "m2")
    }
    assert not by_device["m1"].any() and by_device["m2"][10:].all()
    with pytest.raises(ValueError, match=r"lacks the model's feature column\(s\) \['temp_1'\]"):
        advisor.score(batch.drop_columns(["temp_1"]))


@pytest.mark.broker
def test_live_advisor_publishes_alerts_and_stores_scores(
    mosquitto, model_dir: Path, lake_dir: Path
) -> None:
    broker = parse_broker_url(mosquitto.url)
    factory = ClientFactory(broker)
    listener = JsonListener(broker, "modax/devices/adv1/advisory", "adv-test-listener")
    received = listener.received
    stop, ready = threading.Event(), threading.Event()
    advisor = Advisor(load_model(model_dir))
    stats = {}
    worker = threading.Thread(
        target=lambda: stats.update(
            vars(run_live(advisor, factory, Lake(lake_dir), batch_s=0.1, stop=stop, ready=ready))
        )
    )
    worker.start()
    try:
        assert ready.wait(10), "advisor did not connect"
        sender = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="adv-test-sender")
        sender.connect(broker.host, broker.port)
        sender.loop_start()
        values = currents(80, shift_at=40)
        for seq, value in enumerate(values):
            sender.publish(
                "modax/devices/adv1/telemetry", telemetry_payload("adv1", seq, value), qos=1
            )
        wait_for(lambda: any(m["state"] for m in received), timeout=20, what="an advisory alert")
        sender.loop_stop()
        sender.disconnect()
        wait_for(
            lambda: (
                Lake(lake_dir).exists("scores") and Lake(lake_dir).read("scores").num_rows == 80
            ),
            timeout=20,
            what="80 scores in the lake",
        )
    finally:
        stop.set()
        worker.join(10)
        listener.stop()
    alerts = [m for m in received if m["state"]]
    assert alerts[0]["device_id"] == "adv1" and alerts[0]["state"] == "raised"
    assert alerts[0]["advisory"] is True
    updates = [m for m in received if m["state"] is None]
    assert updates and all(m["score"] is not None and m["threshold"] > 0 for m in updates)
    assert updates[0]["rul_h"] is None  # no remaining-life model was given
    assert stats["scored"] == 80 and stats["alarms"] > 20


def test_cli_fit_from_lake_then_errors(lake_dir: Path, tmp_path: Path) -> None:
    pipeline = Pipeline(lake_dir, derivers=[])
    values = currents(200)
    pipeline.process(
        ["modax/devices/m1/telemetry"] * 200,
        [telemetry_payload("m1", i, v) for i, v in enumerate(values)],
        [T0] * 200,
    )
    out = tmp_path / "saved"
    runner = CliRunner()
    result = runner.invoke(
        app,
        ["advise", "fit", "--out", str(out), "--lake", str(lake_dir), "--detector", "pca-t2q"],
    )
    assert result.exit_code == 0, result.stderr
    model = load_model(out)
    assert model.metadata["training"]["rows"] == 200
    assert model.metadata["training"]["devices"] == ["m1"]
    assert "current_1" in model.features and "current_2" not in model.features  # 1 motor
    result = runner.invoke(app, ["advise", "run", str(tmp_path / "missing"), "--duration", "0"])
    assert result.exit_code == 2 and "no model.json" in result.stderr


def test_an_alarm_that_flickers_raises_one_alert_and_clears_after_a_quiet_spell() -> None:
    """Found in the demo: a per-reading detector (PCA T²) on a device near its threshold raised
    and cleared an alert every few readings, flooding the event feed."""
    rng = np.random.default_rng(3)
    detector = PCADetector().fit(
        np.column_stack([rng.normal(4.0, 0.05, 300), rng.normal(40.0, 0.1, 300)])
    )
    model = save_model(detector, Path(tempfile.mkdtemp()), name="pca", features=FEATURES)
    sent: list[dict] = []
    advisor = Advisor(load_model(model), publish=lambda t, p: sent.append(json.loads(p)))
    flicker = np.where(np.arange(100) % 4 == 0, 9.0, 4.0)  # alarming every 4th reading
    quiet = np.full(200, 4.0)  # 20 s of normal readings at 10 Hz
    values = np.r_[flicker, quiet]
    for start in range(0, values.size, 10):  # batches of 1 s
        seqs = range(start, min(start + 10, values.size))
        advisor.score(
            pa.table(
                {
                    "device_id": ["f1"] * len(seqs),
                    "seq": list(seqs),
                    "timestamp": [T0 + 100 * s for s in seqs],
                    "current_1": values[list(seqs)],
                    "temp_1": [40.0] * len(seqs),
                }
            )
        )
    assert [m["state"] for m in sent] == ["raised", "cleared"]
    assert sent[1]["ts"] - (T0 + 100 * 96) >= advisor.clear_after_s * 1000  # last alarm: row 96


def test_the_advisor_scores_every_device_as_score_samples_does(model_dir: Path) -> None:
    """Only a batch's first device goes through the detector's input checks; every device's
    scores still equal ``score_samples`` on that device's readings."""
    model = load_model(model_dir)
    n = 60
    batch = pa.table(
        {
            "device_id": [f"m{d}" for d in range(3) for _ in range(n)],
            "seq": list(range(n)) * 3,
            "timestamp": [T0 + 100 * i for i in range(n)] * 3,
            "current_1": np.concatenate([currents(n, seed=d, shift_at=20 * d) for d in range(3)]),
            "temp_1": [40.0] * (3 * n),
        }
    )
    scores = Advisor(model).score(batch)
    for d in range(3):
        rows = np.column_stack([currents(n, seed=d, shift_at=20 * d), np.full(n, 40.0)])
        got = scores.filter(pa.compute.equal(scores["device_id"], f"m{d}"))["score"]
        np.testing.assert_allclose(got.to_numpy(), model.detector.score_samples(rows))


def test_the_lake_writer_writes_every_row_once_and_close_drains_it(lake_dir: Path) -> None:
    lake = Lake(lake_dir)
    writer = LakeWriter(lake, max_pending=4)
    tables = [
        pa.table(
            {"device_id": [f"m{i}"] * (i + 1), "seq": list(range(i + 1)), "ts": [T0] * (i + 1)}
        ).cast(pa.schema([("device_id", pa.string()), ("seq", pa.int64()), ("ts", UTC_MS)]))
        for i in range(20)
    ]
    with lake._lock:  # another holder of the lake (a commit, a compaction): writes wait
        for table in tables[:4]:
            writer.put("scores", table)
        assert writer.pending >= 3  # queued, not written, and put() did not wait for the lake
    for table in tables[4:]:
        writer.put("scores", table)
    writer.close()
    stored = lake.read("scores")
    assert stored.num_rows == writer.rows_written["scores"] == sum(t.num_rows for t in tables)
    pairs = zip(stored["device_id"].to_pylist(), stored["seq"].to_pylist(), strict=True)
    assert sorted(pairs) == sorted((f"m{i}", s) for i in range(20) for s in range(i + 1))
    assert writer.commits < len(tables)  # what waited went in one commit
    with pytest.raises(RuntimeError, match=r"lake writer of .* is closed: 'scores' not queued"):
        writer.put("scores", tables[0])


@pytest.mark.broker
def test_a_held_lake_does_not_delay_advice_and_stop_drains_the_rows(
    mosquitto, model_dir: Path, lake_dir: Path
) -> None:
    """The lake is held by another of its users (its lock, as a commit or a compaction holds
    it) for the whole run: advice still arrives, and every scored row is written on stop."""
    broker = parse_broker_url(mosquitto.url)
    listener = JsonListener(broker, "modax/devices/held1/advisory", "adv-held-listener")
    received = listener.received
    lake = Lake(lake_dir)
    stop, ready = threading.Event(), threading.Event()
    stats: dict = {}
    worker = threading.Thread(
        target=lambda: stats.update(
            vars(run_live(Advisor(load_model(model_dir)), ClientFactory(broker), lake,
                          batch_s=0.1, stop=stop, ready=ready))
        )
    )  # fmt: skip
    held = lake._lock.acquire()
    worker.start()
    try:
        assert ready.wait(10), "advisor did not connect"
        sender = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="adv-held-sender")
        sender.connect(broker.host, broker.port)
        sender.loop_start()
        for seq, value in enumerate(currents(80, shift_at=40)):
            sender.publish(
                "modax/devices/held1/telemetry", telemetry_payload("held1", seq, value), qos=1
            )
        wait_for(lambda: any(m["state"] for m in received), timeout=20, what="an advisory alert")
        sender.loop_stop()
        sender.disconnect()
        assert not Path(lake_dir, "scores").exists()  # nothing could be written yet
        stop.set()
        worker.join(0.5)
        assert worker.is_alive()  # the run ends only once its rows are written
    finally:
        stop.set()
        if held:
            lake._lock.release()
        worker.join(20)
        listener.stop()
    assert stats["scored"] == 80 and stats["stored"] == 80
    assert Lake(lake_dir).read("scores").num_rows == 80
