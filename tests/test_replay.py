"""Replay: mixed good, duplicate and malformed messages → each good reading stored once."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import payloads
import pytest

import modax
from modax.lake import Lake
from modax.pipeline import Pipeline, replay_file

T0 = 1_763_900_000_000


def reading(device: str, seq: int, current: float = 4.0) -> str:
    raw = payloads.telemetry(
        device, seq, currents=(current, current - 0.1), temperatures=(40.0 + seq / 100,)
    )
    return raw.decode()


def write_mixed_file(path: Path) -> dict[str, int]:
    """20 good readings (2 devices), 5 duplicates, one safety message, 4 bad messages."""
    lines = []
    for seq in range(10):
        for dev in ("m1", "m2"):
            lines.append(
                json.dumps(
                    {"topic": f"modax/devices/{dev}/telemetry", "payload": reading(dev, seq)}
                )
            )
    lines += lines[:5]
    safety = {
        "timestamp": T0,
        "device_id": "m1",
        "emergency_stop": False,
        "door_closed": True,
        "overload_detected": False,
        "temperature_ok": True,
    }
    lines.append(f"modax/devices/m1/safety {json.dumps(safety)}")
    lines.append(f"modax/sensor/data {reading('m3', 1, current=250.0)}")
    lines.append("modax/devices/m1/telemetry {broken")
    lines.append(json.dumps({"topic": "modax/devices/m2/telemetry", "payload": reading("m1", 3)}))
    lines.append("just-one-word")
    lines.append("")
    path.write_text("\n".join(lines) + "\n")
    return {"good": 21, "duplicates": 5, "bad": 4}


def test_each_good_reading_is_stored_once_and_every_bad_one_quarantined(tmp_path, lake_dir):
    src = tmp_path / "mixed.jsonl"
    expected = write_mixed_file(src)
    result = replay_file(src, Pipeline(lake_dir))
    assert (result.accepted, result.duplicates) == (expected["good"], expected["duplicates"])
    assert dict(result.quarantined) == {
        "out_of_range": 1,
        "not_json": 1,
        "device_id_mismatch": 1,
        "unknown_topic": 1,
    }
    con = modax.connect(lake_dir)
    assert con.sql(
        "select count(*), count(distinct (device_id, seq)) from telemetry"
    ).fetchall() == [(20, 20)]
    assert con.sql("select count(*) from device_safety").fetchall() == [(1,)]
    rows = con.sql("select reason, field, topic from quarantine order by reason").fetchall()
    assert rows == [
        ("device_id_mismatch", "device_id", "modax/devices/m2/telemetry"),
        ("not_json", None, "modax/devices/m1/telemetry"),
        ("out_of_range", "motor_currents[0]", "modax/sensor/data"),
        ("unknown_topic", None, ""),
    ]


def test_replaying_again_stores_no_reading_twice_and_counts_bad_ones_as_repeats(tmp_path, lake_dir):
    src = tmp_path / "mixed.jsonl"
    write_mixed_file(src)
    replay_file(src, Pipeline(lake_dir))
    versions = {name: Lake(lake_dir).version(name) for name in Lake(lake_dir).tables()}
    again = replay_file(src, Pipeline(lake_dir), batch_size=7)
    assert again.accepted == 0
    assert sum(again.quarantined.values()) == 4
    versions.pop("quarantine")
    assert {name: Lake(lake_dir).version(name) for name in versions} == versions
    repeats = modax.connect(lake_dir).sql(
        "select count(*), sum(count) from quarantine group by payload is null order by 1"
    )
    assert repeats.fetchall() == [(4, 4), (4, 4)]  # payloads stored once, repeats counted


def write_two_boots(path: Path) -> None:
    """Two devices without NTP nor ``seq`` (the MODAX firmware), each booting twice the same day.

    Each boot sends ms since boot ``100, 200, ..., 15000``; the second boot starts 5 s after the
    first one's last reading; each line records when it was received (15 ms after sending).
    """
    lines = []
    for boot_epoch in (T0, T0 + 20_000):
        for t in range(100, 15_001, 100):
            for dev in ("m1", "m2"):
                msg = json.loads(reading(dev, 0))
                del msg["seq"]
                msg["timestamp"] = t
                lines.append(
                    json.dumps(
                        {
                            "topic": f"modax/devices/{dev}/telemetry",
                            "payload": json.dumps(msg),
                            "received_at": boot_epoch + t + 15,
                        }
                    )
                )
    path.write_text("\n".join(lines) + "\n")


def test_legacy_devices_keep_their_second_boot_and_a_replay_again_adds_nothing(tmp_path, lake_dir):
    """Issue 17 item 2: 600 readings of two boots are 600 rows; replaying them again adds none."""
    src = tmp_path / "boots.jsonl"
    write_two_boots(src)
    first = replay_file(src, Pipeline(lake_dir), batch_size=250)
    assert (first.accepted, first.duplicates) == (600, 0)
    again = replay_file(src, Pipeline(lake_dir), batch_size=111)
    assert (again.accepted, again.duplicates) == (0, 600)
    con = modax.connect(lake_dir)
    starts = con.sql(
        "select device_id, epoch_ms(min(ts)) from telemetry group by device_id,"
        " epoch_ms(ts) - timestamp order by all"
    ).fetchall()
    assert starts == [(d, e + 100) for d in ("m1", "m2") for e in (T0 + 15, T0 + 20_015)]


def test_cli_replay_prints_a_summary(tmp_path, lake_dir):
    src = tmp_path / "mixed.jsonl"
    write_mixed_file(src)
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "modax",
            "replay",
            str(src),
            "--lake",
            str(lake_dir),
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["accepted"] == 21
    assert summary["duplicates_skipped"] == 5
    assert summary["quarantined_by_reason"]["not_json"] == 1


@pytest.mark.parametrize("name", ["missing.jsonl", "a-directory"])
def test_cli_replay_of_an_unreadable_file_is_one_line_and_nonzero(tmp_path, lake_dir, name):
    (tmp_path / "a-directory").mkdir()
    proc = subprocess.run(
        [sys.executable, "-m", "modax", "replay", str(tmp_path / name), "--lake", str(lake_dir)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "cannot read" in proc.stderr


def test_cli_replay_of_poison_messages_quarantines_them_and_exits_0(tmp_path, lake_dir):
    safety = {
        "timestamp": T0,
        "device_id": "m1",
        "emergency_stop": False,
        "door_closed": True,
        "overload_detected": False,
        "temperature_ok": True,
        "seq": 2**63,
    }
    poison = [
        ("modax/devices/m1/telemetry", reading("m1", 2**63)),
        ("modax/devices/m1/telemetry", reading("m1", 5).replace(str(T0 + 500), str(10**17))),
        ("modax/devices/m1/telemetry", '{"device_id":"m1","x":' + "[" * 1000 + "]" * 1000 + "}"),
        ("modax/devices/m1/status", f'{{"device_id":"m1","online":true,"uptime_ms":{2**63}}}'),
        ("modax/devices/m1/safety", json.dumps(safety)),
    ]
    good = [(f"modax/devices/{d}/telemetry", reading(d, s)) for s in range(3) for d in ("m1", "m2")]
    lines = [json.dumps({"topic": t, "payload": p}) for t, p in good[:3] + poison + good[3:]]
    src = tmp_path / "poison.jsonl"
    src.write_text("\n".join(lines) + "\n")
    proc = subprocess.run(
        [
            *(sys.executable, "-m", "modax", "replay", str(src)),
            *("--lake", str(lake_dir), "--format", "json"),
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert (summary["accepted"], summary["quarantined"]) == (6, 5)
    assert summary["quarantined_by_reason"] == {
        "out_of_range": 3,
        "timestamp_in_future": 1,
        "too_deep": 1,
    }
