"""The digital twin: determinism, the lake's schemas, physics as properties, every fault kind."""

from __future__ import annotations

import importlib
import itertools
import platform
import re
from collections import Counter

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from numba import njit

import simulator
from modax.schema import DEVICE_SAFETY_SCHEMA, TELEMETRY_SCHEMA, MessageError, decode
from modax.testing import require
from simulator import FaultKind, Fleet, Scenario, ScenarioError

STEADY = Scenario.from_dict(
    {
        "name": "steady",
        "fleet": {
            "load_profiles": {"steady": 1},
            "rated_current_a": [5.0, 5.0],
            "load_fraction": [0.8, 0.8],
            "initial_damage": [0.1, 0.1],
        },
    }
)


def column(table: pa.Table, name: str) -> np.ndarray:
    return table[name].to_numpy()


def ms(table: pa.Table, name: str = "ts") -> np.ndarray:
    return pc.cast(table[name].cast(pa.timestamp("ms", tz="UTC")), pa.int64()).to_numpy()


def between(table: pa.Table, fleet: Fleet, lo_s: float, hi_s: float) -> pa.Table:
    t = ms(table) - fleet.start_ms
    return table.filter(pa.array((t >= lo_s * 1000) & (t < hi_s * 1000)))


def dynamic_rms(table: pa.Table) -> float:
    x, y, z = (column(table, c) for c in ("vib_x", "vib_y", "vib_z"))
    return float(np.sqrt(np.mean(x**2 + y**2 + (z - 9.80665) ** 2)))


def faulted(kind: str, start_s: float = 30.0, duration_s: float = 60.0, **kw) -> tuple:
    fleet = Fleet(n_devices=1, seed=5, scenario=STEADY)
    fleet.inject(0, kind, start_s=start_s, duration_s=duration_s, **kw)
    return fleet, fleet.run(start_s + duration_s + 30.0)


# --- the API and the contract -----------------------------------------------------------------


def test_same_seed_gives_identical_tables_whatever_the_chunking():
    def fleet() -> Fleet:
        made = Fleet(n_devices=4, seed=11, scenario="mixed-faults")
        made.inject(2, "dropout", start_s=30.0, duration_s=10.0, channel="temp_2")
        return made

    a = fleet().run(120.0)
    b = fleet().run(120.0, chunk_s=7.3)
    streamed = fleet().stream(chunk_s=2.0)
    c = simulator.SimResult.concat([next(streamed) for _ in range(60)])
    keys = {
        "telemetry": ["device_id", "seq"],
        "device_safety": ["device_id", "seq"],
        "ground_truth": ["device_id", "start_ts", "kind"],
        "remaining_life": ["device_id", "ts"],
        "quarantine": ["topic", "received_at"],
    }
    for name, key in keys.items():  # rows come chunk by chunk; their content is the same
        first = a.tables()[name].sort_by([(k, "ascending") for k in key])
        for other in (b, c):
            second = other.tables()[name].sort_by([(k, "ascending") for k in key])
            if other is c and name == "remaining_life":  # streaming projects the RUL per chunk
                first, second = (t.drop_columns(["rul_s", "rul_exact"]) for t in (first, second))
            assert first.equals(second), name
    assert a.quarantine.num_rows > 0
    assert a.messages() == c.messages()


def test_overlapped_chunks_reach_the_consumer_in_order_and_its_errors_the_caller():
    def fleet() -> Fleet:
        return Fleet(n_devices=3, seed=11, scenario="mixed-faults")

    seen: list[simulator.SimResult] = []
    result = fleet().run(30.0, on_chunk=seen.append, chunk_s=4.0, overlap=True)
    assert result.telemetry.num_rows == 0 and len(seen) == 8
    inline = fleet().run(30.0, chunk_s=4.0)
    joined = simulator.SimResult.concat(seen)
    assert joined.telemetry.equals(inline.telemetry)
    assert joined.device_safety.equals(inline.device_safety)
    assert result.remaining_life.equals(inline.remaining_life)
    from simulator._handoff import parallel_kernels_may_overlap

    assert parallel_kernels_may_overlap()  # tbb or omp here, so the runs above overlapped
    pipelined = fleet().run(30.0, chunk_s=4.0, overlap=True)
    for name, table in inline.tables().items():
        assert pipelined.tables()[name].equals(table), name

    def fail(_: simulator.SimResult) -> None:
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        fleet().run(30.0, on_chunk=fail, chunk_s=4.0, overlap=True)


def test_another_seed_gives_another_fleet():
    a = Fleet(n_devices=2, seed=1).run(10.0).telemetry
    b = Fleet(n_devices=2, seed=2).run(10.0).telemetry
    assert not np.array_equal(column(a, "current_1"), column(b, "current_1"))


def test_device_is_the_same_machine_whatever_the_fleet_size():
    small = Fleet(n_devices=2, seed=3).run(20.0).telemetry
    big = Fleet(n_devices=5, seed=3).run(20.0).telemetry
    mine = big.filter(pc.is_in(big["device_id"], pa.array(["sim-0000", "sim-0001"])))
    assert mine.equals(small)


def test_tables_have_exactly_the_lake_schemas_and_sampling_rates():
    result = Fleet(n_devices=3, seed=1).run(30.0)
    assert result.telemetry.schema.equals(TELEMETRY_SCHEMA)
    assert result.device_safety.schema.equals(DEVICE_SAFETY_SCHEMA)
    assert result.ground_truth.schema.equals(simulator.GROUND_TRUTH_SCHEMA)
    assert result.remaining_life.schema.equals(simulator.REMAINING_LIFE_SCHEMA)
    t = result.telemetry.filter(pc.equal(result.telemetry["device_id"], "sim-0001"))
    assert t.num_rows == 300  # 10 Hz
    assert set(np.diff(ms(t))) == {100}
    seq = column(t, "seq")
    assert (seq >> 32).tolist() == [int(simulator.DEFAULT_START.timestamp())] * 300  # boot count
    assert (seq & 0xFFFFFFFF).tolist() == list(range(300))
    assert pc.all(pc.equal(t["ts"], t["received_at"])).as_py()
    safety = result.device_safety.filter(pc.equal(result.device_safety["device_id"], "sim-0001"))
    assert np.diff(ms(safety)).max() <= 1000  # at least once a second
    assert np.all(ms(safety) % 50 == result.device_safety["ts"][0].value % 50)  # 20 Hz checks
    magnitude = np.sqrt(sum(column(t, c) ** 2 for c in ("vib_x", "vib_y", "vib_z")))
    np.testing.assert_allclose(column(t, "vib_mag"), magnitude, rtol=1e-12)


def test_every_payload_passes_the_contract_except_labelled_corruption():
    fleet = Fleet(n_devices=20, seed=2, scenario="mixed-faults")
    result = fleet.run(600.0)
    kinds = Counter()
    rejected = []
    for _, topic, payload in result.messages():
        try:
            kinds[type(decode(topic, payload)).__name__] += 1
        except MessageError as err:
            rejected.append((topic, err))
    corrupting = result.ground_truth.filter(result.ground_truth["corrupts_payload"])
    assert corrupting.num_rows > 0
    assert rejected, "the mixed-faults dropouts must corrupt some payloads"
    assert {e.reason.value for _, e in rejected} == {"out_of_range"}
    assert {t.split("/")[2] for t, _ in rejected} <= set(corrupting["device_id"].to_pylist())
    assert len(rejected) == result.quarantine.num_rows
    assert kinds["Telemetry"] == result.telemetry.num_rows


def test_messages_through_the_ingestion_pipeline_give_the_batch_tables(tmp_path):
    from modax.pipeline import Pipeline

    fleet = Fleet(n_devices=6, seed=4, scenario="network-chaos")
    result = fleet.run(300.0)
    messages = result.messages()
    pipeline = Pipeline(tmp_path / "lake")
    pipeline.process([m[1] for m in messages], [m[2] for m in messages], [m[0] for m in messages])
    pipeline.close()
    stored = pipeline.lake.read("telemetry").sort_by(
        [("device_id", "ascending"), ("seq", "ascending")]
    )
    batch = result.telemetry.sort_by([("device_id", "ascending"), ("seq", "ascending")])
    for name in ("device_id", "seq", "timestamp", "current_1", "temp_2"):
        assert stored[name].equals(batch[name]), name
    for name in ("ts", "received_at"):  # Delta stores µs
        assert ms(stored, name).tolist() == ms(batch, name).tolist(), name


def test_labels_mark_rows_inside_fault_intervals():
    fleet, result = faulted("overload", start_s=20.0, duration_s=10.0)
    labels = result.labels()
    assert labels.num_rows == result.telemetry.num_rows
    inside = between(labels, fleet, 20.0, 30.0)
    assert set(inside["fault"].to_pylist()) == {"overload"}
    assert pc.sum(labels["anomaly"]).as_py() == inside.num_rows == 100


# --- physics as properties --------------------------------------------------------------------


def test_temperature_rises_under_load_and_relaxes_when_idle():
    fleet = Fleet(n_devices=1, seed=8, scenario=STEADY)
    fleet.inject(0, "estop", start_s=60.0, duration_s=600.0)
    t = fleet.run(1200.0).telemetry
    winding = column(t, "temp_1")
    minute = 600  # readings
    assert winding[6 * minute - 10 :].mean() < winding[minute - 10 : minute].mean() - 5  # idle
    assert np.abs(column(t, "current_1")[2 * minute : 6 * minute]).max() < 0.3
    assert winding[-10:].mean() > winding[6 * minute + 10 : 6 * minute + 20].mean() + 5  # load


def test_wear_is_monotone_and_rul_reaches_zero_at_failure():
    scenario = Scenario.from_dict(
        {
            "name": "worn",
            "fleet": {"initial_damage": [0.97, 0.99], "wear_acceleration": 6000.0},
        }
    )
    result = Fleet(n_devices=4, seed=3, scenario=scenario).run(600.0)
    life = result.remaining_life
    failures = result.ground_truth.filter(pc.equal(result.ground_truth["kind"], "failure"))
    assert failures.num_rows >= 1
    for device in set(life["device_id"].to_pylist()):
        mine = life.filter(pc.equal(life["device_id"], device))
        damage = column(mine, "damage")
        assert np.all(np.diff(damage) >= 0)
        rul = column(mine, "rul_s")
        failed = column(mine, "failed")
        if failed.any():
            first = int(np.argmax(failed))
            assert rul[first] == 0.0 and np.all(rul[first:] == 0.0)
            assert damage[first] == 1.0
            assert column(mine, "rul_exact")[:first].all()
            np.testing.assert_allclose(np.diff(rul[:first]), -1.0, atol=1e-9)  # 1 s per s
            fail_ms = failures.filter(pc.equal(failures["device_id"], device))["start_ts"][0]
            assert ms(mine)[first - 1] < fail_ms.value <= ms(mine)[first]


def test_wear_rate_follows_the_modax_stress_factors():
    light = Fleet(n_devices=1, seed=1, scenario=STEADY)
    heavy = Fleet(n_devices=1, seed=1, scenario=STEADY)
    heavy.inject(0, "overload", start_s=0.0, duration_s=600.0, severity=1.0)
    d_light = column(light.run(120.0).remaining_life, "damage")
    d_heavy = column(heavy.run(120.0).remaining_life, "damage")
    assert d_heavy[-1] - d_heavy[0] > 3 * (d_light[-1] - d_light[0]) > 0


@pytest.mark.parametrize("fault", ["bearing_wear", "imbalance", "misalignment"])
def test_vibration_rms_grows_with_fault_severity(fault):
    levels = []
    for severity in (0.0, 0.3, 0.6, 1.0):
        fleet = Fleet(n_devices=1, seed=9, scenario=STEADY)
        if severity:
            fleet.inject(0, fault, start_s=0.0, duration_s=120.0, severity=severity)
        levels.append(dynamic_rms(between(fleet.run(120.0).telemetry, fleet, 90.0, 120.0)))
    assert levels == sorted(levels) and levels[-1] > 3 * levels[0]


# --- every fault kind shows in the signals and in ground truth ---------------------------------


def test_ground_truth_names_each_injected_fault():
    for kind in FaultKind:
        if kind is FaultKind.FAILURE:
            continue
        fleet, result = faulted(kind.value, start_s=10.0, duration_s=20.0)
        gt = result.ground_truth.to_pylist()
        assert [(g["kind"], g["category"]) for g in gt] == [(kind.value, kind.category)]
        assert ms(result.ground_truth, "start_ts")[0] == fleet.start_ms + 10_000
        assert ms(result.ground_truth, "end_ts")[0] == fleet.start_ms + 30_000


def test_overload_drives_currents_above_10_a_and_sets_the_safety_flag():
    fleet, result = faulted("overload")
    inside = between(result.telemetry, fleet, 31.0, 90.0)
    before = between(result.telemetry, fleet, 0.0, 30.0)
    assert column(inside, "current_1").min() > 10.0 > column(before, "current_1").max()
    flags = between(result.device_safety, fleet, 31.0, 90.0)["overload_detected"]
    assert pc.all(flags).as_py()


def test_overheating_reaches_the_85_c_alarm():
    _, result = faulted("overheating", start_s=0.0, duration_s=900.0)
    assert column(result.telemetry, "temp_1").max() >= 85.0
    assert not pc.all(result.device_safety["temperature_ok"]).as_py()


def test_phase_imbalance_splits_the_currents():
    fleet, result = faulted("phase_imbalance", severity=1.0)
    inside = between(result.telemetry, fleet, 31.0, 90.0)
    i1, i2 = column(inside, "current_1"), column(inside, "current_2")
    assert np.median((i1 - i2) / ((i1 + i2) / 2)) > 0.25


def test_sensor_faults_show_in_the_reported_values():
    fleet, stuck = faulted("stuck", channel="temp_1")
    assert len(set(column(between(stuck.telemetry, fleet, 30.0, 90.0), "temp_1"))) == 1
    fleet, drift = faulted("drift", channel="temp_2", severity=1.0)
    t2 = column(drift.telemetry, "temp_2")
    assert t2[890:900].mean() - t2[290:300].mean() > 20.0  # 25 °C at the end of the fault
    fleet, spikes = faulted("spikes", channel="current_1", severity=1.0)
    i1 = column(between(spikes.telemetry, fleet, 30.0, 90.0), "current_1")
    assert 5 <= np.sum(np.abs(i1 - np.median(i1)) > 4.0) <= 80
    fleet, vib = faulted("dropout", channel="vibration")
    inside = between(vib.telemetry, fleet, 30.0, 90.0)
    assert pc.all(pc.equal(inside["vib_mag"], 0.0)).as_py()


def test_temperature_dropout_goes_to_quarantine_with_its_reason():
    fleet, result = faulted("dropout", channel="temp_1")
    assert result.ground_truth["corrupts_payload"].to_pylist() == [True]
    assert result.quarantine.num_rows == 600
    assert set(result.quarantine["reason"].to_pylist()) == {"out_of_range"}
    assert set(result.quarantine["field"].to_pylist()) == {"temperatures[0]"}
    assert between(result.telemetry, fleet, 30.0, 90.0).num_rows == 0


@pytest.mark.parametrize(
    ("kind", "flag", "value"),
    [("estop", "emergency_stop", True), ("door_open", "door_closed", False)],
)
def test_safety_faults_set_the_device_flags_and_stop_the_motor(kind, flag, value):
    fleet, result = faulted(kind)
    inside = between(result.device_safety, fleet, 30.0, 90.0)
    assert set(inside[flag].to_pylist()) == {value}
    assert value not in set(between(result.device_safety, fleet, 0.0, 30.0)[flag].to_pylist())
    currents = column(between(result.telemetry, fleet, 31.0, 90.0), "current_1")
    assert np.abs(currents).max() < 0.3


def test_network_faults_act_on_what_is_delivered():
    fleet, loss = faulted("loss", severity=1.0)
    assert between(loss.telemetry, fleet, 30.0, 90.0).num_rows < 0.3 * 600
    fleet, dup = faulted("duplicates", severity=1.0)
    sent = Counter((t, p) for _, t, p in dup.messages())
    assert 150 < sum(n - 1 for n in sent.values()) < 450
    assert dup.telemetry.num_rows == 1200  # the lake holds each reading once
    fleet, reorder = faulted("reorder", severity=1.0)
    seqs = [decode(t, p).seq for _, t, p in reorder.messages() if t.endswith("telemetry")]
    assert any(b < a for a, b in itertools.pairwise(seqs))
    fleet, burst = faulted("burst")
    held = between(burst.telemetry, fleet, 30.0, 90.0)
    assert set(ms(held, "received_at")) == {fleet.start_ms + 90_000}
    fleet, skew = faulted("clock_skew", severity=1.0)
    inside = between(skew.telemetry, fleet, 0.0, 200.0)
    offset = ms(inside) - (fleet.start_ms + (column(inside, "seq") & 0xFFFFFFFF) * 100)
    assert set(np.abs(offset)) == {0, 120_000}
    fleet, boot = faulted("reboot")
    t = boot.telemetry
    since_boot = t.filter(pc.less(t["timestamp"], 10**12))
    assert since_boot.num_rows == 570  # 60 s less the 3 s boot
    assert column(since_boot, "timestamp")[0] == 3000
    true = fleet.start_ms + (column(since_boot, "seq") & 0xFFFFFFFF) * 100
    np.testing.assert_array_equal(ms(since_boot), true)


# --- scenarios -----------------------------------------------------------------------------


def test_builtin_scenarios_load():
    assert {"healthy", "mixed-faults", "run-to-failure", "network-chaos"} <= set(
        simulator.list_scenarios()
    )
    for name in simulator.list_scenarios():
        assert Scenario.load(name).name == name


def test_scenario_file_and_its_errors(tmp_path):
    good = tmp_path / "mine.toml"
    good.write_text(
        '[fleet]\nload_profiles = { cyclic = 1 }\n[[faults]]\nkind = "imbalance"\n'
        "devices = [0]\nonset_s = 5\nduration_s = 10\n"
    )
    result = Fleet(n_devices=2, scenario=good).run(20.0)
    assert result.ground_truth["kind"].to_pylist() == ["imbalance"]
    bad = tmp_path / "bad.toml"
    bad.write_text('[[faults]]\nkind = "overload"\nseverity = [0.5, 2.0]\n')
    with pytest.raises(ScenarioError, match=r"faults\[0\]\.severity"):
        Scenario.load(bad)
    with pytest.raises(ScenarioError, match="not valid TOML"):
        (tmp_path / "broken.toml").write_text("[fleet\n")
        Scenario.load(tmp_path / "broken.toml")
    with pytest.raises(ScenarioError, match=r"fleet\.wear_acceleration"):
        Scenario.from_dict({"fleet": {"wear_acceleration": -1}})


def test_inject_rejects_bad_requests():
    fleet = Fleet(n_devices=2)
    with pytest.raises(ValueError, match="not in this fleet"):
        fleet.inject("sim-0009", "overload", start_s=0.0)
    with pytest.raises(ScenarioError, match="not a fault kind"):
        fleet.inject(0, "melt", start_s=0.0)
    with pytest.raises(ValueError, match=r"multiple of 0\.1"):
        fleet.run(0.05)


# --- numba kernels against their plain-Python twins -------------------------------------------


def test_physics_kernel_equals_its_reference_twin():
    from simulator._kernel import (
        ChunkBuffers,
        FaultArrays,
        initial_state,
        run_chunk,
        simulate_chunk,
    )

    fleet = Fleet(n_devices=3, seed=6, scenario="mixed-faults")
    fleet.inject(0, "stuck", start_s=0.5, duration_s=1.0, channel="vibration")
    fleet.inject(1, "spikes", start_s=0.0, duration_s=5.0, channel="current_2")
    fleet._draw(4.0)
    outs = []
    for kernel in (simulate_chunk, simulate_chunk.py_func):
        state = initial_state(fleet.params_)
        faults = FaultArrays.of(fleet.faults_, 3)
        faults = faults._replace(hold=faults.hold.copy())
        out = ChunkBuffers.allocate(3, 80)
        with np.errstate(over="ignore"):
            run_chunk(fleet.params_, state, fleet.keys_, faults, 0, 80, 1.0, -1.0, out, kernel)
        outs.append((out, state))
    (a, sa), (b, sb) = outs
    np.testing.assert_array_equal(a.telemetry, b.telemetry)
    np.testing.assert_array_equal(a.check, b.check)
    np.testing.assert_array_equal(a.wear, b.wear)
    np.testing.assert_array_equal(a.flags, b.flags)
    np.testing.assert_array_equal(a.emit, b.emit)
    np.testing.assert_array_equal(sa, sb)


def _double_arithmetic(kernel: object, run: object) -> tuple[int, int]:
    """Packed and scalar double-precision arithmetic instructions in ``kernel``'s x86-64 code.

    ``kernel`` is compiled anew with its own options (numba shows no assembly of cached code)
    and ``run(fresh)`` calls the fresh copy once, which compiles it for the arguments it gets.
    A loop LLVM vectorises is mostly packed (``vmulpd``: 8 doubles in a ``zmm`` register), with
    a scalar twin for the remainder; a loop it cannot vectorise is scalar only (``vmulsd``).
    """
    require(
        platform.machine() in ("x86_64", "AMD64"),
        "an x86-64 machine (the check reads its assembly)",
    )
    options = {k: v for k, v in kernel.targetoptions.items() if k not in ("cache", "nopython")}
    fresh = njit(**options)(kernel.py_func)
    run(fresh)
    asm = fresh.inspect_asm(fresh.signatures[0])
    kinds = Counter(re.findall(r"^\s*v?(?:add|sub|mul|div|min|max|sqrt)([ps])d\s", asm, re.M))
    return kinds["p"], kinds["s"]


def _vectorised(packed: int, scalar: int) -> bool:
    """Whether most of the arithmetic is in vector loops (each has a scalar remainder twin)."""
    return packed > 0 and packed >= scalar / 2


def test_vectorisation_check_tells_a_vector_loop_from_a_scalar_one():
    @njit
    def scale(out, a, b):
        for j in range(len(out)):
            out[j] = a[j] * b[j] + 1.0

    @njit
    def recurrence(out, a, b):
        acc = 0.0
        for j in range(len(out)):
            acc = acc * a[j] + b[j]
            out[j] = acc

    x = np.linspace(0.0, 1.0, 64)
    assert _vectorised(*_double_arithmetic(scale, lambda f: f(np.empty(64), x, x)))
    assert not _vectorised(*_double_arithmetic(recurrence, lambda f: f(np.empty(64), x, x)))


def test_physics_kernel_is_vectorised_across_devices():
    """docs/decisions/0007: each step of a block of devices compiles to vector instructions."""
    from simulator._kernel import (
        ChunkBuffers,
        FaultArrays,
        initial_state,
        run_chunk,
        simulate_chunk,
    )

    fleet = Fleet(n_devices=3, seed=6, scenario="mixed-faults")
    fleet._draw(1.0)

    def run(kernel: object) -> None:
        state = initial_state(fleet.params_)
        out = ChunkBuffers.allocate(3, 20)
        faults = FaultArrays.of(fleet.faults_, 3)
        with np.errstate(over="ignore"):
            run_chunk(fleet.params_, state, fleet.keys_, faults, 0, 20, 1.0, -1.0, out, kernel)

    packed, scalar = _double_arithmetic(simulate_chunk, run)
    assert _vectorised(packed, scalar), f"{packed} packed, {scalar} scalar double operations"


@pytest.mark.parametrize(
    ("module", "name", "args"),
    [
        ("_noise", "normal_pair", (np.uint64(12345), 77, 3)),
        ("_noise", "uniform", (np.uint64(12345), 77, 3)),
        ("_load", "load_fraction", (2, 0.7, 0.2, 60.0, 5.0, 0.5, np.uint64(9), 123.4)),
        ("_electrical", "phase_currents", (0.8, 5.0, 0.3, 0.5, 4, 0.4, 0.01, -0.01)),
        (
            "_thermal",
            "thermal_step",
            (60.0, 45.0, 25.0, 30.0, 0.999, 0.998, 5.0, 4.0, 5.0, 0.5, 3.0),
        ),
        ("_vibration", "amplitudes", (True, 0.2, 0.1, 0.04, 0.3, 0.2, 0.5, 0.4)),
        ("_vibration", "axes", (0.3, 0.2, 1.0, 0.1, 0.2, 1.3, 3.2, 0.76, 0.64, 0.5, -0.2, 1.1)),
        ("_wear", "stress_factor", (7.0, 9.0, 3.5**2, 70.0, True)),
        ("_trig", "sincos_turns", (3.3716,)),
        ("_trig", "sin_turns", (-2.613,)),
        ("_sensors", "sense", (4.0337, 0.021, -20.0, 20.0, 100.0)),
    ],
)
def test_helper_kernels_equal_their_reference_twins(module, name, args):
    fn = getattr(importlib.import_module(f"simulator.{module}"), name)
    with np.errstate(over="ignore"):
        assert fn(*args) == fn.py_func(*args)


def test_emitted_kernel_equals_its_reference_twin_and_numpy():
    from simulator._assemble import emitted

    rng = np.random.default_rng(4)
    emit = rng.random((60, 5)) < 0.2
    emit[:, 2] = False
    flags = rng.integers(0, 16, emit.shape).astype(np.uint8)
    got = emitted(emit, flags)
    for a, b in zip(got, emitted.py_func(emit, flags), strict=True):
        np.testing.assert_array_equal(a, b)
    device, index = np.nonzero(emit.T)
    rank = np.arange(len(device)) - np.searchsorted(device, device)
    for a, b in zip(got, (device, index, rank, flags.T[device, index]), strict=True):
        np.testing.assert_array_equal(a, b)


def test_validity_kernel_equals_its_reference_twin_and_the_contract():
    import msgspec

    from modax.schema import Telemetry, Vibration
    from simulator._validity import reading_check

    fields = [f"motor_currents[{i}]" for i in (0, 1)]
    fields += [f"vibration.{a}" for a in ("x", "y", "z", "magnitude")]
    fields += [f"temperatures[{i}]" for i in (0, 1)]
    rng = np.random.default_rng(3)
    columns = [rng.choice([0.0, 9.81, -127.0, 150.0, -300.0, 1e3], 400) for _ in fields]
    for row in range(400):
        c1, c2, x, y, z, mag, t1, t2 = (float(c[row]) for c in columns)
        check = reading_check(c1, c2, x, y, z, mag, t1, t2)
        assert check == reading_check.py_func(c1, c2, x, y, z, mag, t1, t2)
        message = Telemetry(1, "d-1", [c1, c2], Vibration(x, y, z, mag), [t1, t2], seq=1)
        try:
            decode("modax/devices/d-1/telemetry", msgspec.json.encode(message))
        except MessageError as err:
            assert err.field == fields[check]
        else:
            assert check == -1


def test_sincos_in_turns_matches_libm():
    from simulator._trig import sin_turns, sincos_turns

    turns = np.concatenate([np.random.default_rng(0).uniform(-4, 4, 20_000), np.arange(-8, 9) / 8])
    got = np.array([sincos_turns(x) for x in turns])
    np.testing.assert_allclose(got[:, 0], np.sin(2 * np.pi * turns), rtol=0, atol=4e-15)
    np.testing.assert_allclose(got[:, 1], np.cos(2 * np.pi * turns), rtol=0, atol=4e-15)
    assert [sincos_turns(x) for x in (0.0, 0.25, 0.5)] == [(0.0, 1.0), (1.0, -0.0), (-0.0, -1.0)]
    assert [sin_turns(x) for x in turns] == got[:, 0].tolist()
