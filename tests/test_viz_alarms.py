"""Alarm log and acknowledgements that survive a restart (SQLite state file + lake events)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa

from modax.lake import Lake
from modax.viz import AckStore, AlarmLog, default_ack_path, recent_events

NOW = int(datetime.now(UTC).timestamp() * 1000)


def events_table(rows: list[tuple[str, int, str, str, float]]) -> pa.Table:
    device, ts, kind, state, value = zip(*rows, strict=True)
    return pa.table(
        {
            "device_id": list(device),
            "ts": pa.array(list(ts), pa.timestamp("ms", tz="UTC")),
            "kind": list(kind),
            "state": list(state),
            "value": list(value),
            "threshold": [10.0] * len(rows),
        }
    )


def test_acknowledgement_survives_a_restart(tmp_path: Path) -> None:
    path = default_ack_path(str(tmp_path / "lake"))
    first = AlarmLog(AckStore(path))
    alarm = first.raise_alarm("m1", "overload", "safety", NOW, value=12.0, threshold=10.0)
    assert first.acknowledge(alarm.alarm_id, "ana", NOW + 1_000)
    assert not first.acknowledge("m9/overload/1", "ana")
    first.acks.close()

    restarted = AlarmLog(AckStore(path))
    again = restarted.raise_alarm("m1", "overload", "safety", NOW, value=12.0, threshold=10.0)
    assert again.status == "active · acknowledged"
    assert (again.acked_by, again.acked_ms) == ("ana", NOW + 1_000)
    other = restarted.raise_alarm("m1", "overtemp", "safety", NOW)
    assert other.status == "active · unacknowledged"


def test_first_acknowledgement_wins(tmp_path: Path) -> None:
    store = AckStore(tmp_path / "acks.sqlite3")
    store.acknowledge("a", "ana", 1)
    store.acknowledge("a", "bob", 2)
    assert store.get("a") == ("ana", 1)
    assert store.get("b") is None


def test_alarms_are_rebuilt_from_lake_safety_events(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    assert recent_events(lake) is None
    lake.append(
        "safety_events",
        events_table(
            [
                ("m2", NOW - 5_000, "overtemp", "begin", 86.0),
                ("m1", NOW - 9_000, "overload", "begin", 12.0),
                ("m1", NOW - 8_000, "overload", "end", 9.0),
                ("m3", NOW - 3 * 86_400_000, "overload", "begin", 11.0),  # too old
            ]
        ),
    )
    store = AckStore(default_ack_path(lake.root))
    store.acknowledge(f"m1/overload/{NOW - 9_000}", "ana", NOW)
    log = AlarmLog(store)
    assert log.load_events(recent_events(lake, hours=24)) == 3
    status = {(a.device_id, a.kind): a.status for a in log.alarms()}
    assert status == {
        ("m2", "overtemp"): "active · unacknowledged",
        ("m1", "overload"): "cleared · acknowledged",
    }
    assert [a.device_id for a in log.alarms()] == ["m2", "m1"]  # newest first


def test_ack_state_lives_outside_the_tables(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    AckStore(default_ack_path(lake.root)).acknowledge("x", "ana", 1)
    assert lake.tables() == []
    assert str(default_ack_path("s3://bucket/lake")).endswith("modax/alarm_acks.sqlite3")
