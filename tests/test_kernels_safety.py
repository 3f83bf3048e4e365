"""Safety rules: the numba kernel, its reference twin and the firmware agree on shared vectors."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import payloads
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from streaming import assert_split_equals_one_piece

import modax
from modax.kernels._reference import ReferenceSafety
from modax.kernels.safety import (
    KINDS,
    SAFETY_EVENTS_SCHEMA,
    VECTOR_KINDS,
    SafetyChecker,
    SafetyConfig,
)
from modax.pipeline import Pipeline
from modax.schema import TELEMETRY_CHANNELS, UTC_MS, topic_for

ROOT = Path(__file__).resolve().parent.parent
VECTORS = sorted((ROOT / "firmware" / "vectors").glob("safety_*.json"))
T0 = 1_763_900_000_000


def telemetry_table(rows: list[dict], device: str | list[str] = "v") -> pa.Table:
    """Lake-shaped telemetry from vector-style readings (absent channels are null)."""
    n = len(rows)
    devices = device if isinstance(device, list) else [device] * n
    columns: dict[str, list] = {c: [None] * n for c in TELEMETRY_CHANNELS}
    for i, r in enumerate(rows):
        for k, x in enumerate(r["motor_currents"]):
            columns[f"current_{k + 1}"][i] = x
        for k, x in enumerate(r["temperatures"]):
            columns[f"temp_{k + 1}"][i] = x
        for axis in ("x", "y", "z"):
            columns[f"vib_{axis}"][i] = r["vibration"][axis]
    table = {"device_id": devices, "ts": pa.array([r["ts"] for r in rows], pa.int64()).cast(UTC_MS)}
    return pa.table(table | {c: pa.array(v, pa.float64()) for c, v in columns.items()})


def event_rows(table: pa.Table) -> list[tuple]:
    ts = table["ts"].cast(pa.int64()).to_pylist()
    return list(
        zip(
            table["device_id"].to_pylist(),
            ts,
            table["kind"].to_pylist(),
            table["state"].to_pylist(),
            table["value"].to_pylist(),
            strict=True,
        )
    )


def test_there_is_a_vector_for_every_device_rule():
    kinds = {e["kind"] for path in VECTORS for e in json.loads(path.read_text())["events"]}
    assert kinds == set(VECTOR_KINDS)


def test_vectors_are_up_to_date_with_their_generator():
    script = ROOT / "firmware" / "vectors" / "make_vectors.py"
    done = subprocess.run([sys.executable, str(script), "--check"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("path", VECTORS, ids=[p.stem for p in VECTORS])
def test_kernel_and_reference_agree_with_the_shared_vector(path):
    vector = json.loads(path.read_text())
    config = SafetyConfig.from_dict(vector["config"])
    readings = vector["readings"]
    want = [(e["index"], e["kind"], e["state"], e["value"]) for e in vector["events"]]

    twin = ReferenceSafety(config)
    got_twin, flags = [], []
    for i, r in enumerate(readings):
        v = r["vibration"]
        for *_, kind, state, value, _ in twin.reading(
            "v", r["ts"], r["motor_currents"], r["temperatures"], (v["x"], v["y"], v["z"])
        ):
            if kind in VECTOR_KINDS:
                got_twin.append((i, kind, state, value))
        flags.append({k: twin.flags("v")[k] for k in VECTOR_KINDS})
    assert flags == vector["expected"]
    assert [e[:3] for e in got_twin] == [e[:3] for e in want]
    assert [e[3] for e in got_twin] == pytest.approx([e[3] for e in want], rel=1e-12)

    # the kernel, one batch, and again one reading per batch: same events (stale left out: the
    # vectors have gaps the device does not judge)
    index = {r["ts"]: i for i, r in enumerate(readings)}
    for batches in ([readings], [[r] for r in readings]):
        checker = SafetyChecker(config)
        events = pa.concat_tables([checker.process(telemetry_table(b)) for b in batches])
        got = [
            (index[ts], kind, state, value)
            for _, ts, kind, state, value in event_rows(events)
            if kind in VECTOR_KINDS
        ]
        assert [e[:3] for e in got] == [e[:3] for e in want]
        assert [e[3] for e in got] == pytest.approx([e[3] for e in want], rel=1e-12)


reading = st.tuples(
    st.integers(0, 2),  # device
    st.integers(0, 3_000),  # ms since the previous reading of any device
    st.lists(st.sampled_from([0.0, 0.5, 3.0, 9.5, 10.0, 10.5, -11.0]), max_size=4),
    st.lists(st.sampled_from([20.0, 40.0, 84.9, 85.0, 90.0]), max_size=4),
    st.sampled_from([0.0, 0.1, 0.2]),
)


@settings(max_examples=80, deadline=None)
@given(rows=st.lists(reading, min_size=1, max_size=120), data=st.data())
def test_kernel_equals_reference_on_random_streams_in_any_split(rows, data):
    config = SafetyConfig(stuck_samples=3, temp_rise_window_ms=2_000, stale_after_ms=2_500)
    # one time-ordered stream, as live ingestion sees it: then the watermark never runs ahead
    # of a device's next reading and "stale" is the same in any split
    clock = T0
    readings, devices = [], []
    for device, gap, currents, temps, x in rows:
        clock += gap
        readings.append(
            {
                "ts": clock,
                "motor_currents": currents,
                "temperatures": temps,
                "vibration": {"x": x, "y": 0.0, "z": 0.0},
            }
        )
        devices.append(f"d{device}")

    twin = ReferenceSafety(config)
    want = []
    for d, r in zip(devices, readings, strict=True):
        v = r["vibration"]
        want += twin.reading(
            d, r["ts"], r["motor_currents"], r["temperatures"], (v["x"], v["y"], v["z"])
        )
    want += twin.check_stale(max(r["ts"] for r in readings))

    def key(e: tuple) -> tuple:
        return e[0], e[1], KINDS.index(e[2]), e[3]

    def finish(checker: SafetyChecker, parts: list[pa.Table]) -> tuple[list, list]:
        return sorted(event_rows(pa.concat_tables(parts)), key=key), checker.active()

    got, active = assert_split_equals_one_piece(
        lambda: SafetyChecker(config),
        lambda checker, batch: checker.process(batch),
        finish,
        lambda lo, hi: telemetry_table(readings[lo:hi], devices[lo:hi]),
        len(readings),
        data,
    )
    want_rows = sorted(((d, t, k, s, v) for d, t, k, s, v, _ in want), key=key)
    assert [e[:4] for e in got] == [e[:4] for e in want_rows]
    assert [e[4] for e in got] == pytest.approx([e[4] for e in want_rows], rel=1e-12)
    assert {(d, k) for d in set(devices) for k, on in twin.flags(d).items() if on} == set(active)


def test_emergency_stop_and_door_from_device_messages():
    checker = SafetyChecker()
    ts = pa.array([T0, T0 + 50, T0 + 100, T0 + 200], pa.int64()).cast(UTC_MS)
    messages = pa.table(
        {
            "device_id": ["m1", "m1", "m2", "m1"],
            "ts": ts,
            "emergency_stop": [False, True, False, False],
            "door_closed": [True, True, False, None],
        }
    )
    events = checker.process(telemetry_table([]), messages)
    rows = [(d, k, s) for d, _, k, s, _ in event_rows(events)]
    assert rows == [
        ("m1", "emergency_stop", "begin"),
        ("m2", "door_open", "begin"),
        ("m1", "emergency_stop", "end"),
    ]
    assert checker.active() == [("m2", "door_open")]
    assert events.schema == SAFETY_EVENTS_SCHEMA
    assert events["threshold"].null_count == 3  # e-stop and door have no threshold


def test_stale_begins_after_silence_and_ends_with_the_next_reading():
    checker = SafetyChecker(SafetyConfig(stale_after_ms=5_000))
    r = {"motor_currents": [3.0], "temperatures": [40.0], "vibration": {"x": 0, "y": 0, "z": 9.8}}
    checker.process(telemetry_table([{**r, "ts": T0}, {**r, "ts": T0 + 100}], ["a", "b"]))
    quiet = checker.process(telemetry_table([{**r, "ts": T0 + 5_000}], ["b"]))
    assert event_rows(quiet) == []  # a's silence is 5 000 ms: not longer than the limit
    late = checker.process(telemetry_table([{**r, "ts": T0 + 5_200}], ["b"]))
    assert event_rows(late) == [("a", T0 + 5_000, "stale", "begin", 5_000.0)]
    back = checker.process(telemetry_table([{**r, "ts": T0 + 9_000}], ["a"]))
    assert event_rows(back) == [("a", T0 + 9_000, "stale", "end", 9_000.0)]
    # against the wall clock instead of the watermark
    wall = checker.process(telemetry_table([]), now_ms=T0 + 20_000)
    assert {(d, k, s) for d, _, k, s, _ in event_rows(wall)} == {
        ("a", "stale", "begin"),
        ("b", "stale", "begin"),
    }


def test_unsorted_batches_are_evaluated_in_event_time_order():
    r = {"temperatures": [40.0], "vibration": {"x": 0, "y": 0, "z": 9.8}}
    rows = [
        {**r, "ts": T0 + 200, "motor_currents": [3.0]},
        {**r, "ts": T0, "motor_currents": [3.0]},
        {**r, "ts": T0 + 100, "motor_currents": [12.0]},
    ]
    events = SafetyChecker().process(telemetry_table(rows))
    assert event_rows(events) == [
        ("v", T0 + 100, "overload", "begin", 12.0),
        ("v", T0 + 200, "overload", "end", 3.0),
    ]


def test_config_rejects_unknown_keys():
    with pytest.raises(ValueError, match="overload_a"):
        SafetyConfig.from_dict({"overload_a": 3})


def replay_payload(device: str, seq: int, current: float) -> bytes:
    wobble = 0.01 * (seq % 7)
    return payloads.telemetry(
        device,
        seq,
        timestamp=T0 + 100 * seq,
        currents=(current + wobble, current - wobble),
        temperatures=(40.0 + wobble,),
        vibration=(0.1 + wobble, wobble, 9.8 - wobble, 9.8),
    )


def test_replayed_overload_reaches_the_lake_and_a_healthy_device_gets_no_event(lake_dir):
    topics, payloads = [], []
    for seq in range(30):
        for device, current in (("hot", 12.0 if 10 <= seq < 20 else 4.0), ("cool", 4.0)):
            topics.append(topic_for(device, "telemetry"))
            payloads.append(replay_payload(device, seq, current))
    pipeline = Pipeline(lake_dir)
    result = pipeline.process(topics, payloads, [T0 + 3_000] * len(topics))
    pipeline.close()
    assert result.accepted == 60

    con = modax.connect(lake_dir)
    events = con.sql(
        "select device_id, kind, state, value, epoch_ms(ts) from safety_events order by ts"
    ).fetchall()
    assert [e[:3] for e in events] == [("hot", "overload", "begin"), ("hot", "overload", "end")]
    assert events[0][3] == pytest.approx(12.0, abs=0.07)
    assert [e[4] for e in events] == [T0 + 1_000, T0 + 2_000]
    windows = con.sql(
        "select device_id, count(*), sum(count), max(current_1_max) from aggregates_1s "
        "group by 1 order by 1"
    ).fetchall()
    assert windows[0][:3] == ("cool", 3, 30)
    assert windows[1][:3] == ("hot", 3, 30)
    assert windows[1][3] == pytest.approx(12.06)
    assert not math.isnan(windows[0][3])
