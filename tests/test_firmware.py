"""The firmware's portable C++ core speaks exactly the contract the rest of modax expects.

The core is built with the system g++ (``firmware/Makefile``, the same build as
``make firmware-test``) and driven through ``modax_core_cli``:

- its host tests and every vector in ``firmware/vectors`` pass;
- the payloads it builds are accepted by :func:`modax.schema.decode` and by the pipeline, with
  the values it was given (converted and quantized as on the device);
- what it refuses to build, the Python decoder rejects for the same field;
- its flags and events on the shared safety vectors are the expected ones, and the same as the
  Python safety kernel's on the same readings.
"""

from __future__ import annotations

import fcntl
import json
import math
import re
import shutil
import subprocess
from pathlib import Path

import msgspec
import numpy as np
import pyarrow as pa
import pytest

from modax import schema
from modax.schema import MessageError, Reason, SafetyStatus, Telemetry, decode
from modax.testing import require

ROOT = Path(__file__).resolve().parent.parent
FIRMWARE = ROOT / "firmware"
VECTORS = FIRMWARE / "vectors"
FIXTURES = FIRMWARE / "host" / "fixtures"
RULES = ("overload", "overtemp", "temp_rise", "current_imbalance", "sensor_stuck")
SAFETY_VECTORS = sorted(VECTORS.glob("safety_*.json"))
PAYLOAD_VECTORS = sorted(VECTORS.glob("payload_*.json"))
#: Half the published resolution: 1 mA, 0.01 °C, 1 mm/s².
HALF_STEP = {"current": 0.0005, "temperature": 0.005, "vibration": 0.0005}


@pytest.fixture(scope="module")
def core() -> Path:
    """The firmware's host build directory, with ``modax_core_tests`` and ``modax_core_cli``."""
    require(shutil.which("g++") and shutil.which("make"), "g++ and make (apt-get install g++ make)")
    build = FIRMWARE / "build"
    build.mkdir(exist_ok=True)
    with (build / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one build at a time in the shared tree
        done = subprocess.run(
            ["make", "-s", "-C", str(FIRMWARE), "all"], capture_output=True, text=True
        )
    assert done.returncode == 0, done.stdout + done.stderr
    return build


def cli(core: Path, *args: str) -> list[dict]:
    out = subprocess.run(
        [str(core / "modax_core_cli"), *args], capture_output=True, text=True, check=True
    ).stdout
    return [json.loads(line) for line in out.splitlines()]


# --- the host tests and the vector gate -------------------------------------------------------


def test_host_unit_tests_and_vectors_pass(core: Path):
    done = subprocess.run(
        [str(core / "modax_core_tests"), str(VECTORS)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout
    last = done.stdout.strip().splitlines()[-1]
    passed, failed = map(int, re.fullmatch(r"(\d+) passed, (\d+) failed", last).groups())
    assert failed == 0
    assert passed >= 30 + len(SAFETY_VECTORS) + len(PAYLOAD_VECTORS)


def test_vector_gate_fails_on_a_vector_the_core_disagrees_with(core: Path, tmp_path: Path):
    vector = json.loads((VECTORS / "payload_safety_status.json").read_text())
    expected = vector["messages"][0]["expected"]
    expected["payload"] = expected["payload"].replace('"door_closed":true', '"door_closed":false')
    (tmp_path / "payload_tampered.json").write_text(json.dumps(vector))
    done = subprocess.run(
        [str(core / "modax_core_tests"), str(tmp_path)], capture_output=True, text=True
    )
    assert done.returncode == 1
    assert "FAIL " + str(tmp_path / "payload_tampered.json") in done.stdout
    assert done.stdout.strip().endswith("1 failed")


def test_core_limits_and_defaults_are_the_contracts(core: Path):
    (limits,) = cli(core, "limits")
    assert limits["max_channels"] == schema.MAX_CHANNELS
    assert limits["current_limit_a"] == schema.CURRENT_LIMIT_A
    assert tuple(limits["temperature_range_c"]) == schema.TEMPERATURE_RANGE_C
    assert limits["vibration_limit_ms2"] == schema.VIBRATION_LIMIT_MS2
    assert limits["max_payload_bytes"] == schema.MAX_PAYLOAD_BYTES
    assert limits["epoch_ms_threshold"] == schema.EPOCH_MS_THRESHOLD
    assert f"{{1,{limits['max_device_id_length']}}}" in schema.DEVICE_ID_PATTERN.pattern
    # the defaults of docs/safety-rules.md, as its vector-format example spells them out
    rules = (ROOT / "docs" / "safety-rules.md").read_text()
    example = json.loads(re.search(r"```json\n(.*?)```", rules, re.DOTALL).group(1))
    assert limits["safety_defaults"] == example["config"]


def test_core_safety_defaults_are_the_one_home_of_the_limits(core: Path):
    (limits,) = cli(core, "limits")
    defaults = schema.DEFAULT_SAFETY
    assert limits["safety_defaults"] == {k: getattr(defaults, k) for k in limits["safety_defaults"]}


# --- payloads: the core's output through the Python decoder -----------------------------------


def _built(core: Path, path: Path) -> list[tuple[dict, dict]]:
    vector = json.loads(path.read_text())
    return list(zip(vector["messages"], cli(core, "payloads", str(path)), strict=True))


def _adc_current(counts: int) -> float:
    counts = min(max(counts, 0), 4095)
    return (counts * 3.3 / 4095 - 1.65) / 0.1


def _ntc_celsius(counts: int) -> tuple[float, bool]:
    """Beta equation for the NTC divider, clamped to the contract's range; (°C, sensor ok)."""
    low, high = schema.TEMPERATURE_RANGE_C
    if counts >= 4095:
        return low, False
    if counts <= 0:
        return high, False
    ohm = 10_000 * counts / (4095 - counts)
    celsius = 1 / (1 / 298.15 + math.log(ohm / 10_000) / 3950) - 273.15
    return min(max(celsius, low), high), low <= celsius <= high


def _accel(raw: int, range_g: int) -> float:
    return raw / (32768 / range_g) * 9.80665


def _expected_reading(message: dict) -> dict:
    """The values a telemetry message should carry, computed independently of the C++ core."""
    sensors = message.get("sensors")
    if sensors is None:
        return message["reading"]
    g = sensors.get("accel_range_g", 8)
    x, y, z = (_accel(raw, g) for raw in sensors["accel_raw"])
    return {
        "motor_currents": [_adc_current(c) for c in sensors["current_counts"]],
        "temperatures": [_ntc_celsius(c)[0] for c in sensors["ntc_counts"]],
        "vibration": {"x": x, "y": y, "z": z},
    }


def _assert_telemetry(msg: Telemetry, message: dict) -> None:
    want = _expected_reading(message)
    assert msg.motor_currents == pytest.approx(want["motor_currents"], abs=HALF_STEP["current"])
    assert msg.temperatures == pytest.approx(want["temperatures"], abs=HALF_STEP["temperature"])
    vib = msg.vibration
    for axis in "xyz":
        assert getattr(vib, axis) == pytest.approx(want["vibration"][axis], abs=5e-4)
    assert vib.magnitude == pytest.approx(math.hypot(vib.x, vib.y, vib.z), abs=5e-4)


def _assert_safety(msg: SafetyStatus, message: dict) -> None:
    sensors = message.get("sensors")
    if sensors is None:
        assert {k: getattr(msg, k) for k in message["state"]} == message["state"]
        return
    temps = [_ntc_celsius(c) for c in sensors["ntc_counts"]]
    assert msg.emergency_stop == sensors["emergency_stop_pressed"]
    assert msg.door_closed == sensors["door_closed"]
    assert msg.overload_detected == any(
        abs(_adc_current(c)) > 10.0 for c in sensors["current_counts"]
    )
    assert msg.temperature_ok == all(ok and t < 85.0 for t, ok in temps)


@pytest.mark.parametrize("path", PAYLOAD_VECTORS, ids=lambda p: p.stem)
def test_core_payloads_decode_to_the_values_given(core: Path, path: Path):
    device_id = json.loads(path.read_text())["device_id"]
    built = [(m, b) for m, b in _built(core, path) if b["error"] is None]
    assert built
    for message, out in built:
        assert out["topic"] == schema.topic_for(device_id, message["kind"])
        assert out["payload"] == message["expected"]["payload"]
        msg = decode(out["topic"], out["payload"].encode())
        assert msg.device_id == device_id
        for name in ("timestamp", "seq", "online", "firmware_version", "uptime_ms"):
            if name in message:
                assert getattr(msg, name) == message[name]
        if isinstance(msg, Telemetry):
            _assert_telemetry(msg, message)
        elif isinstance(msg, SafetyStatus):
            _assert_safety(msg, message)


def _device_round(value: float, decimals: int) -> float:
    """The core's quantize(): std::round(value · 10^d) / 10^d, with the same IEEE operations."""
    scale = 10.0**decimals
    scaled = value * scale
    return math.copysign(math.floor(abs(scaled) + 0.5), scaled) / scale


def test_random_readings_arrive_as_exactly_the_doubles_the_device_judged(
    core: Path, tmp_path: Path
):
    rng = np.random.default_rng(11)
    messages = []
    for i in range(300):
        n_i, n_t = int(rng.integers(1, 5)), int(rng.integers(1, 5))
        reading = {
            "motor_currents": rng.uniform(-99.0, 99.0, n_i).tolist(),
            "temperatures": rng.uniform(-54.0, 199.0, n_t).tolist(),
            "vibration": dict(zip("xyz", rng.normal(0.0, 30.0, 3).tolist(), strict=True)),
        }
        messages.append({"kind": "telemetry", "timestamp": i, "seq": i, "reading": reading})
    path = tmp_path / "random.json"
    path.write_text(json.dumps({"device_id": "m1", "messages": messages}))
    for message, out in zip(messages, cli(core, "payloads", str(path)), strict=True):
        assert out["error"] is None
        msg = decode(out["topic"], out["payload"].encode())
        reading = message["reading"]
        assert msg.motor_currents == [_device_round(v, 3) for v in reading["motor_currents"]]
        assert msg.temperatures == [_device_round(v, 2) for v in reading["temperatures"]]
        vib = {axis: _device_round(v, 3) for axis, v in reading["vibration"].items()}
        assert (msg.vibration.x, msg.vibration.y, msg.vibration.z) == (vib["x"], vib["y"], vib["z"])
        x, y, z = vib["x"], vib["y"], vib["z"]
        assert msg.vibration.magnitude == _device_round(math.sqrt(x * x + y * y + z * z), 3)
        assert len(out["payload"]) < 400


def test_thermistor_at_100_c_fails_temperature_ok(core: Path, tmp_path: Path):
    # The original firmware read 100 °C as about -68 °C, so its 85 °C cut-off never tripped.
    sensors = {"emergency_stop_pressed": False, "door_closed": True, "current_counts": [2048]}
    messages = [
        {"kind": "safety", "timestamp": 0, "seq": i, "sensors": sensors | {"ntc_counts": [c]}}
        for i, c in enumerate((1419, 267, 4095, 0))  # 40 °C, 100 °C, open, shorted
    ]
    path = tmp_path / "thermistor.json"
    path.write_text(json.dumps({"device_id": "m1", "messages": messages}))
    flags = [
        decode(b["topic"], b["payload"].encode()).temperature_ok
        for b in cli(core, "payloads", str(path))
    ]
    assert flags == [True, False, False, False]


def _python_rejection(device_id: str, message: dict) -> MessageError:
    """The decoder's verdict on the naive payload of a message the core refused to build."""
    kind = message["kind"]
    if kind == "telemetry":
        vib = message["reading"]["vibration"]
        body = {"timestamp": message["timestamp"], "device_id": device_id} | message["reading"]
        body["vibration"] = vib | {"magnitude": math.hypot(vib["x"], vib["y"], vib["z"])}
        body["seq"] = message["seq"]
    else:
        body = {"timestamp": message["timestamp"], "device_id": device_id, "seq": message["seq"]}
        body |= message["state"]
    with pytest.raises(MessageError) as err:
        decode(schema.topic_for(device_id, kind), json.dumps(body).encode())
    return err.value


def test_what_the_core_refuses_the_decoder_rejects_for_the_same_field(core: Path):
    refused = 0
    for path in PAYLOAD_VECTORS:
        device_id = json.loads(path.read_text())["device_id"]
        for message, out in _built(core, path):
            if out["error"] is None:
                continue
            refused += 1
            reason, _, field = out["error"].partition(":")
            err = _python_rejection(device_id, message)
            assert err.field == field
            if reason == "negative_value":
                assert err.reason in (Reason.NEGATIVE_SEQ, Reason.NEGATIVE_TIMESTAMP)
            else:
                assert err.reason == Reason(reason)
    assert refused >= 3


def test_core_payloads_pass_the_pipeline_into_the_lake(core: Path, tmp_path: Path):
    from modax.lake import Lake
    from modax.pipeline import Pipeline

    topics, payloads = [], []
    for path in PAYLOAD_VECTORS:
        for _, out in _built(core, path):
            if out["error"] is None:
                topics.append(out["topic"])
                payloads.append(out["payload"].encode())
    lake = Lake(tmp_path / "lake")
    pipeline = Pipeline(lake)
    try:
        result = pipeline.process(topics, payloads, [1_700_000_001_000] * len(topics))
    finally:
        pipeline.close()
    assert not result.quarantined
    assert result.accepted == len(topics)
    stored = lake.read("telemetry", columns=["device_id", "seq", "current_1"]).to_pylist()
    sent = [decode(t, p) for t, p in zip(topics, payloads, strict=True)]
    want = {(m.device_id, m.seq, m.motor_currents[0]) for m in sent if isinstance(m, Telemetry)}
    assert {(r["device_id"], r["seq"], r["current_1"]) for r in stored} == want


# --- safety: the shared vectors, through the C++ core and the Python kernel -------------------


def _core_steps(core: Path, path: Path) -> list[dict]:
    return cli(core, "safety", str(path))


def _assert_matches_vector(steps: list[dict], vector: dict) -> None:
    assert len(steps) == len(vector["expected"])
    for i, (step, expected) in enumerate(zip(steps, vector["expected"], strict=True)):
        flags = {k: step["flags"][k] for k in expected}
        assert flags == expected, f"reading {i}"
    events = [
        (i, e["kind"], e["state"], e["value"]) for i, s in enumerate(steps) for e in s["events"]
    ]
    want = vector.get("events")
    if want is None:
        return
    assert [(e[0], e[1], e[2]) for e in events] == [
        (w["index"], w["kind"], w["state"]) for w in want
    ]
    for got, w in zip(events, want, strict=True):
        if w.get("value") is not None:
            assert got[3] == pytest.approx(w["value"], rel=1e-9, abs=1e-12)


def test_shared_safety_vectors_exist():
    require(SAFETY_VECTORS, "shared safety vectors firmware/vectors/safety_*.json (issue 5)")
    kinds = {e["kind"] for p in SAFETY_VECTORS for e in json.loads(p.read_text()).get("events", [])}
    assert kinds >= set(RULES)


@pytest.mark.parametrize(
    "path", [*SAFETY_VECTORS, FIXTURES / "safety_smoke.json"], ids=lambda p: p.stem
)
def test_core_agrees_with_the_safety_vector(core: Path, path: Path):
    vector = json.loads(path.read_text())
    _assert_matches_vector(_core_steps(core, path), vector)


def _telemetry_table(readings: list[dict], device_id: str = "m1") -> pa.Table:
    n = len(readings)
    columns: dict[str, list] = {
        "device_id": [device_id] * n,
        "seq": list(range(n)),
        "timestamp": [r["ts"] for r in readings],
        "ts": [r["ts"] for r in readings],
        "received_at": [r["ts"] for r in readings],
    }
    for prefix, key in (("current", "motor_currents"), ("temp", "temperatures")):
        for k in range(schema.MAX_CHANNELS):
            columns[f"{prefix}_{k + 1}"] = [
                r[key][k] if k < len(r[key]) else None for r in readings
            ]
    for axis, name in (("x", "vib_x"), ("y", "vib_y"), ("z", "vib_z"), ("magnitude", "vib_mag")):
        columns[name] = [r["vibration"][axis] for r in readings]
    columns["date"] = [0] * n
    arrays = {}
    for f in schema.TELEMETRY_SCHEMA:
        values = columns[f.name]
        if pa.types.is_timestamp(f.type):
            arrays[f.name] = pa.array(values, pa.int64()).cast(f.type)
        elif pa.types.is_date32(f.type):
            arrays[f.name] = pa.array(values, pa.int32()).cast(f.type)
        else:
            arrays[f.name] = pa.array(values, f.type)
    return pa.table(arrays, schema=schema.TELEMETRY_SCHEMA)


def _python_kernel_events(vector: dict) -> list[tuple[int, str, str]]:
    from modax.kernels.safety import SafetyChecker, SafetyConfig

    readings = vector["readings"]
    config = SafetyConfig(**vector["config"]) if "config" in vector else None
    table = _telemetry_table(readings)
    events = SafetyChecker(config).process(table).to_pylist()
    index = {r["ts"]: i for i, r in enumerate(readings)}
    return [
        (index[int(e["ts"].timestamp() * 1000 + 0.5)], e["kind"], e["state"])
        for e in events
        if e["kind"] in RULES
    ]


def _kernel_available() -> bool:
    try:
        from modax.kernels.safety import SafetyChecker, SafetyConfig  # noqa: F401
    except ImportError:
        return False
    return True


def _random_stream(rng: np.random.Generator, n: int) -> list[dict]:
    """Readings that cross every threshold: currents around 10 A with unbalanced phases,
    temperatures around 85 °C with jumps, values that hold for a while, channels that come and
    go, and gaps in time."""
    readings, ts = [], 0
    current, temp, y = 8.0, 80.0, 0.01
    for _ in range(n):
        ts += int(rng.choice([100, 100, 100, 2500]))
        if rng.random() < 0.7:
            current = round(float(rng.normal(7.0, 4.0)), 1)
        if rng.random() < 0.5:
            temp = round(temp + 0.1 * (82.0 - temp) + float(rng.normal(0.3, 2.0)), 1)
        if rng.random() < 0.15:
            y = round(float(rng.normal(0.0, 0.05)), 3)
        n_currents = int(rng.choice([1, 2, 2, 3]))
        spread = round(float(rng.uniform(0.0, 0.7)), 2)
        currents = [round(current * (1.0 + spread * k), 3) for k in range(n_currents)]
        temps = [temp - 2.0 * k for k in range(int(rng.choice([1, 2])))]
        x = round(float(rng.normal(0.0, 0.05)), 3)
        z = round(9.81 + float(rng.normal(0.0, 0.02)), 3)
        readings.append(
            {
                "ts": ts,
                "motor_currents": currents,
                "temperatures": temps,
                "vibration": {"x": x, "y": y, "z": z, "magnitude": math.hypot(x, y, z)},
            }
        )
    return readings


@pytest.mark.parametrize("path", SAFETY_VECTORS, ids=lambda p: p.stem)
def test_python_kernel_and_core_agree_on_the_shared_vector(core: Path, path: Path):
    require(_kernel_available(), "modax.kernels.safety (issue 5)")
    vector = json.loads(path.read_text())
    steps = _core_steps(core, path)
    ours = [(i, e["kind"], e["state"]) for i, s in enumerate(steps) for e in s["events"]]
    assert ours == _python_kernel_events(vector)


@pytest.mark.parametrize("seed", range(3))
def test_python_kernel_and_core_agree_on_random_streams(core: Path, tmp_path: Path, seed: int):
    require(_kernel_available(), "modax.kernels.safety (issue 5)")
    config = {
        "overload_current_a": 10.0,
        "max_temperature_c": 85.0,
        "temp_rise_c_per_s": 0.5,
        "temp_rise_window_ms": 10_000,
        "imbalance_ratio": 0.25,
        "imbalance_min_current_a": 1.0,
        "stuck_samples": 5,
    }
    vector = {"config": config, "readings": _random_stream(np.random.default_rng(seed), 400)}
    path = tmp_path / "stream.json"
    path.write_text(json.dumps(vector))
    steps = _core_steps(core, path)
    ours = [(i, e["kind"], e["state"]) for i, s in enumerate(steps) for e in s["events"]]
    assert {k for _, k, _ in ours} >= {"overload", "overtemp", "current_imbalance", "sensor_stuck"}
    assert ours == _python_kernel_events(vector)


# --- Wokwi: the simulation files and `modax wokwi run` ----------------------------------------


def _config_pin(name: str) -> int:
    text = (FIRMWARE / "include" / "modax_config.h").read_text()
    return int(re.search(rf"#define {name} (\d+)", text).group(1))


def test_wokwi_diagram_wires_what_the_firmware_reads():
    diagram = json.loads((FIRMWARE / "diagram.json").read_text())
    parts = {p["id"]: p for p in diagram["parts"]}
    wires = {frozenset(c[:2]) for c in diagram["connections"]}

    def wired(a: str, b: str) -> bool:
        return frozenset((a, b)) in wires

    assert parts["esp"]["type"] == "board-esp32-devkit-c-v4"
    assert parts["imu1"]["type"] == "wokwi-mpu6050"
    assert parts["ntc1"]["type"] == "wokwi-ntc-temperature-sensor"
    assert wired("current1:SIG", f"esp:{_config_pin('MODAX_PIN_CURRENT_1')}")
    assert wired("current2:SIG", f"esp:{_config_pin('MODAX_PIN_CURRENT_2')}")
    assert wired("ntc1:OUT", f"esp:{_config_pin('MODAX_PIN_NTC')}")
    assert wired("estop:1.l", f"esp:{_config_pin('MODAX_PIN_ESTOP')}")
    assert wired("door:1.l", f"esp:{_config_pin('MODAX_PIN_DOOR')}")
    assert wired("imu1:SDA", f"esp:{_config_pin('MODAX_PIN_SDA')}")
    assert wired("imu1:SCL", f"esp:{_config_pin('MODAX_PIN_SCL')}")
    for part in ("current1", "current2", "ntc1", "imu1"):  # 3.3 V: the ADC reference the core uses
        assert wired(f"{part}:VCC", "esp:3V3")
    for button in ("estop", "door"):  # to ground, read with the internal pull-up
        assert any(wired(f"{button}:2.l", f"esp:GND.{k}") for k in (1, 2, 3))
        assert parts[button]["type"] == "wokwi-pushbutton"
    # the potentiometers start near 4 A, the thermistor at the core's Beta
    for pot in ("current1", "current2"):
        counts = int(parts[pot]["attrs"]["value"]) * 4095 / 1023
        assert 3.0 < (counts * 3.3 / 4095 - 1.65) / 0.1 < 5.0
    core_beta = re.search(
        r"beta_k = ([\d.]+)",
        (FIRMWARE / "lib" / "modax_core" / "src" / "modax" / "conversions.h").read_text(),
    )
    assert float(parts["ntc1"]["attrs"]["beta"]) == float(core_beta.group(1))
    # every part the scenario drives exists
    scenario = (FIRMWARE / "wokwi" / "run.py").read_text()
    driven = set(re.findall(r'\(\d+, "(\w+)", "\w+"', scenario))
    assert driven and driven <= set(parts)


def test_wokwi_toml_points_at_the_wokwi_build():
    import tomllib

    config = tomllib.loads((FIRMWARE / "wokwi.toml").read_text())["wokwi"]
    ini = (FIRMWARE / "platformio.ini").read_text()
    env = re.fullmatch(r"\.pio/build/(\w+)/firmware\.bin", config["firmware"]).group(1)
    assert f"[env:{env}]" in ini
    assert config["elf"] == f".pio/build/{env}/firmware.elf"
    assert '"Wokwi-GUEST"' in ini.split(f"[env:{env}]")[1]


def test_wokwi_run_says_what_it_needs(tmp_path: Path):
    from typer.testing import CliRunner

    from modax.cli import app

    shutil.copy(FIRMWARE / "wokwi.toml", tmp_path / "wokwi.toml")
    result = CliRunner().invoke(
        app, ["wokwi", "run", "--firmware-dir", str(tmp_path)], env={"WOKWI_CLI_TOKEN": ""}
    )
    assert result.exit_code == 1
    text = " ".join(result.output.split())
    for needed in ("WOKWI_CLI_TOKEN", "make wokwi", "pio run -e wokwi", "network access"):
        assert needed in text
    assert "Traceback" not in result.output


def _recording(core: Path, tmp_path: Path, *, estop: bool = True) -> list[dict]:
    """What a Wokwi run of the scenario records, with payloads built by the C++ core."""
    t0, seq0 = 1_700_000_000_000, 7 << 32
    messages = []
    for i in range(40):  # 4 s at 10 Hz: overload, then 100 °C, then vibration
        reading = {
            "motor_currents": [16.5 if 10 <= i < 15 else 4.0, 3.9],
            "temperatures": [100.0 if 20 <= i < 25 else 40.0],
            "vibration": {"x": 0.5 * 9.80665 if i >= 35 else 0.0, "y": 0.0, "z": 9.81},
        }
        stamp = 3000 + 100 * i if i < 5 else t0 + 100 * i  # ms since boot until the NTP sync
        messages.append(
            {"kind": "telemetry", "timestamp": stamp, "seq": seq0 + i, "reading": reading}
        )
    states = [
        (False, True, False, True),
        (False, True, True, True),
        (False, True, False, False),
        (estop, True, False, True),
        (False, False, False, True),
        (False, True, False, True),
    ]
    for k, (stop, door, overload, temp_ok) in enumerate(states):
        state = {
            "emergency_stop": stop,
            "door_closed": door,
            "overload_detected": overload,
            "temperature_ok": temp_ok,
        }
        messages.append(
            {"kind": "safety", "timestamp": t0 + 700 * k, "seq": seq0 + k, "state": state}
        )
    messages.append({"kind": "status", "online": True, "timestamp": t0, "uptime_ms": 900})
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps({"device_id": "esp32-240ac4000110", "messages": messages}))
    built = cli(core, "payloads", str(path))
    serial = [
        "modax: device esp32-240ac4000110 firmware 0.1.0 boot 7",
        "modax: mqtt connected, 12 messages waiting",
    ]
    return [{"source": "serial", "sim_s": 0.0, "line": line} for line in serial] + [
        {"source": "mqtt", "topic": b["topic"], "payload": b["payload"]} for b in built
    ]


def test_wokwi_verdict_passes_a_good_run(core: Path, tmp_path: Path):
    from modax.cli._wokwi import evaluate

    failed = [c for c in evaluate(_recording(core, tmp_path)) if not c.ok]
    assert failed == []


def test_wokwi_verdict_catches_inf_and_a_missed_estop(core: Path, tmp_path: Path):
    from modax.cli._wokwi import evaluate

    records = _recording(core, tmp_path, estop=False)
    records.append({"source": "serial", "sim_s": 9.0, "line": "Published: temperatures [inf]"})
    records.append(
        {"source": "mqtt", "topic": "modax/devices/esp32-240ac4000110/telemetry", "payload": "{}"}
    )
    failed = {c.name for c in evaluate(records) if not c.ok}
    assert failed == {"e-stop", "no inf or nan", "every message follows modax.schema"}


# --- commands: the core's verdicts are the decoder's -------------------------------------------

COMMAND_VECTORS = sorted(VECTORS.glob("command_*.json"))
TWIN_COMMANDS = ("inject_fault", "set_load", "set_motor", "reboot")


def test_core_command_limits_are_the_contracts(core: Path):
    assert set(schema.Command.__args__) == {  # every command is the device's or the twin's
        t for t in schema.Command.__args__ if t.__struct_config__.tag in schema.DEVICE_COMMANDS
    } | {t for t in schema.Command.__args__ if t.__struct_config__.tag in TWIN_COMMANDS}
    (limits,) = cli(core, "limits")
    assert tuple(limits["sample_rate_range_hz"]) == schema.SAMPLE_RATE_RANGE_HZ
    assert f"{{1,{limits['max_command_id_length']}}}" in schema.COMMAND_ID_PATTERN.pattern


def _python_verdict(device_id: str, payload: str) -> tuple[str | None, str | None]:
    """``(reason, field)`` a device should answer, from modax.schema; ``(None, None)``: accept.

    A device knows none of the twin's commands, so it refuses each of them whatever its fields.
    """
    try:
        body = json.loads(payload)
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("type") in TWIN_COMMANDS:
        return "unsupported_command", "type"
    try:
        schema.decode_command(schema.topic_for(device_id, "command"), payload.encode())
    except MessageError as err:
        return err.reason.value, err.field
    return None, None


def _core_verdicts(core: Path, device_id: str, payloads: list[str], path: Path) -> list[dict]:
    path.write_text(
        json.dumps({"device_id": device_id, "commands": [{"payload": p} for p in payloads]})
    )
    return cli(core, "commands", str(path))


@pytest.mark.parametrize("path", COMMAND_VECTORS, ids=lambda p: p.stem)
def test_core_answers_each_command_as_the_decoder_does(core: Path, path: Path):
    vector = json.loads(path.read_text())
    answers = cli(core, "commands", str(path))
    assert len(answers) == len(vector["commands"]) >= 20
    for command, answer in zip(vector["commands"], answers, strict=True):
        ack = answer["ack"]
        assert (ack.get("reason"), ack.get("field")) == _python_verdict(
            vector["device_id"], command["payload"]
        ), command["payload"]
        assert ack["accepted"] == ("reason" not in ack)
        assert msgspec.json.decode(json.dumps(ack), type=schema.CommandAck).device_id == "m1"
        if ack["accepted"]:  # the settings the command asked for are the device's now
            sent = json.loads(command["payload"])
            for name in ("rate_hz", "overload_current_a", "max_temperature_c"):
                if sent.get(name) is not None:
                    key = "sample_rate_hz" if name == "rate_hz" else name
                    assert answer[key] == sent[name]


def test_core_and_decoder_agree_on_random_commands(core: Path, tmp_path: Path):
    rng = np.random.default_rng(19)
    values = [-1, 0, 0.05, 0.1, 2, 9.99, 10, 10.5, 85, 100, 100.01, 199, 250, -55, -56, "x", True,
              None, [1], 1e400]  # fmt: skip
    payloads = []
    for i in range(300):
        body: dict[str, object] = {
            "type": str(rng.choice(["set_sample_rate", "set_thresholds", "set_load", "nap"])),
            "device_id": str(rng.choice(["m1", "m1", "m1", "m2", "m/1"])),
            "command_id": str(rng.choice([f"c{i}", f"c{i}", "bad id"])),
        }
        for name in ("rate_hz", "overload_current_a", "max_temperature_c"):
            if rng.random() < 0.6:
                body[name] = values[int(rng.integers(len(values)))]
        for name in list(body):
            if rng.random() < 0.05:
                del body[name]
        keys = list(body)
        rng.shuffle(keys)
        payloads.append(json.dumps({k: body[k] for k in keys}).replace("Infinity", "1e400"))
    answers = _core_verdicts(core, "m1", payloads, tmp_path / "random.json")
    for payload, answer in zip(payloads, answers, strict=True):
        ack = answer["ack"]
        assert (ack.get("reason"), ack.get("field")) == _python_verdict("m1", payload), payload
