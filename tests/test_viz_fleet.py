"""The live fleet state: rules, alarms, inactivity, quarantine, bounded memory."""

from __future__ import annotations

import msgspec
import numpy as np
import pytest

from modax.schema import (
    Advisory,
    DeviceStatus,
    Recommendation,
    SafetyEvent,
    SafetyStatus,
    Telemetry,
    Vibration,
    decode,
)
from modax.viz import (
    AlarmLog,
    FleetOverview,
    FleetState,
    FleetTable,
    alarm_frame,
    decode_live,
    fleet_frame,
)
from modax.viz._fleet import _Ring

T0 = 1_800_000_000_000


def reading(device: str, ts: int, current: float = 4.0, temp: float = 40.0) -> Telemetry:
    vib = Vibration(0.1, -0.1, 9.8, 9.801)
    return Telemetry(ts, device, [current, current * 0.98], vib, [temp, temp - 1], seq=ts)


def test_last_values_and_sparkline_follow_readings() -> None:
    fleet = FleetState()
    for i in range(50):
        fleet.apply(reading("m1", T0 + i * 100, current=4.0 + i / 100), received_ms=T0 + i * 100)
    row = fleet.row("m1")
    assert row["state"] == "ok"
    assert row["current_1"] == pytest.approx(4.49)
    assert row["current_3"] is None
    assert row["temp_max"] == 40.0
    assert row["last_ts"] == T0 + 4900
    assert len(row["spark"]) == 40  # bounded sparkline
    assert row["spark"][-1] == pytest.approx(4.49)


def test_overload_raises_and_clears_a_live_rule_alarm() -> None:
    fleet = FleetState()
    fleet.apply(reading("m1", T0), received_ms=T0)
    fleet.apply(reading("m1", T0 + 100, current=12.5), received_ms=T0 + 100)
    assert fleet.row("m1")["state"] == "alarm"
    assert fleet.row("m1")["alarms"] == "overload"
    [alarm] = fleet.alarms.alarms()
    assert (alarm.kind, alarm.value, alarm.threshold, alarm.raised_ms) == (
        "overload",
        12.5,
        10.0,
        T0 + 100,
    )
    fleet.apply(reading("m1", T0 + 200), received_ms=T0 + 200)
    assert fleet.row("m1")["state"] == "ok"
    assert alarm.status == "cleared · unacknowledged"
    assert fleet.kpis()["safety_alarms"] == 0


def test_overtemp_at_85_degrees() -> None:
    fleet = FleetState()
    fleet.apply(reading("m1", T0, temp=84.9), received_ms=T0)
    assert fleet.row("m1")["state"] == "ok"
    fleet.apply(reading("m1", T0 + 100, temp=85.0), received_ms=T0 + 100)
    assert fleet.row("m1")["alarms"] == "overtemp"


def test_ingester_events_replace_the_fallback_rules() -> None:
    fleet = FleetState()
    fleet.apply(reading("m1", T0, current=12.0), received_ms=T0)
    assert fleet.alarms.is_active("m1", "overload")
    fleet.apply(SafetyEvent("m1", T0 + 50, "temp_rise", "begin", 0.8, 0.5))
    assert not fleet.alarms.is_active("m1", "overload")
    assert fleet.row("m1")["alarms"] == "temp_rise"
    fleet.apply(reading("m1", T0 + 100, current=15.0), received_ms=T0 + 100)
    assert fleet.row("m1")["alarms"] == "temp_rise"  # the ingester decides now
    fleet.apply(SafetyEvent("m1", T0 + 900, "temp_rise", "end", 0.1, 0.5))
    assert fleet.row("m1")["state"] == "ok"


def test_device_safety_messages_raise_estop_and_door() -> None:
    fleet = FleetState()
    fleet.apply(SafetyStatus(T0, "m1", True, False, False, True), received_ms=T0)
    assert fleet.row("m1")["alarms"] == "door_open, emergency_stop"
    fleet.apply(SafetyStatus(T0 + 1, "m1", False, True, False, True), received_ms=T0 + 1)
    assert fleet.row("m1")["state"] == "ok"


def test_last_will_then_inactivity() -> None:
    fleet = FleetState(inactive_after_s=5)
    fleet.apply(reading("m1", T0), received_ms=T0)
    fleet.apply(reading("m2", T0), received_ms=T0)
    fleet.apply(DeviceStatus("m1", online=False), received_ms=T0 + 10)
    assert fleet.row("m1")["state"] == "offline"
    assert fleet.check_inactivity(T0 + 4_000) == []
    assert fleet.check_inactivity(T0 + 6_000) == ["m2"]  # m1 is already known offline
    assert fleet.row("m2")["state"] == "inactive"
    assert fleet.alarms.is_active("m2", "inactive")
    assert fleet.kpis()["online"] == 0
    fleet.apply(reading("m2", T0 + 7_000), received_ms=T0 + 7_000)
    assert fleet.row("m2")["state"] == "ok"
    assert not fleet.alarms.is_active("m2", "inactive")


def test_advisories_show_scores_rul_and_alerts_without_touching_safety() -> None:
    fleet = FleetState()
    fleet.apply(reading("m1", T0), received_ms=T0)
    advice = [Recommendation("check_bearing", "Inspect the bearing", "warning")]
    fleet.apply(Advisory("m1", T0, "raised", score=0.97, threshold=0.5, recommendations=advice))
    fleet.apply(Advisory("m1", T0 + 100, rul_h=120.0))
    fleet.apply(Advisory("m2", T0, kind="wear", rul_h=40.0))
    row = fleet.row("m1")
    assert (row["state"], row["score"], row["rul_h"]) == ("warning", 0.97, 120.0)
    assert row["alarms"] == "anomaly"
    kpis = fleet.kpis()
    assert (kpis["anomaly_alerts"], kpis["safety_alarms"], kpis["worst_rul_h"]) == (1, 0, 40.0)
    [alarm] = fleet.alarms.alarms()
    assert (alarm.source, alarm.threshold, alarm.note) == ("model", 0.5, "Inspect the bearing")
    fleet.apply(Advisory("m1", T0 + 200, "cleared", score=0.1))
    assert fleet.row("m1")["state"] == "ok"
    assert fleet.scores("m1") == [(T0, 0.97), (T0 + 200, 0.1)]


def test_remaining_life_interval_and_cap_reach_the_table_the_kpi_and_the_feed() -> None:
    fleet = FleetState()
    for device in ("m1", "m2", "m3"):
        fleet.apply(reading(device, T0), received_ms=T0)
    fleet.apply(Advisory("m1", T0, score=0.41, rul_h=812.4, rul_low_h=640.2, rul_high_h=990.0))
    fleet.apply(Advisory("m2", T0, rul_h=1000.0, rul_low_h=930.0, rul_high_h=1000.0, rul_cap_h=1e3))
    fleet.apply(Advisory("m3", T0, "raised", score=3.2, threshold=1.0, rul_h=95.0))
    fleet.apply(Advisory("m3", T0 + 100, score=3.5, rul_h=90.5, rul_low_h=60.0, rul_high_h=120.0))
    table = fleet_frame(fleet).set_index("device_id")
    assert table.loc["m1", "rul"] == "812 (640–990)"
    assert table.loc["m2", "rul"] == "≥ 1000"
    assert (table.loc["m3", "rul"], table.loc["m3", "score"]) == ("90 (60–120)", 3.5)
    assert table.loc["m1", "score"] == 0.41 and np.isnan(table.loc["m2", "score"])
    overview = FleetOverview(fleet, table=FleetTable(fleet, min_interval_s=0.0))
    assert overview.kpi["worst_rul_h"].value == "90 h (60–120)"
    [feed] = alarm_frame(fleet.alarms).to_dict("records")
    assert (feed["kind"], feed["source"], feed["value"]) == ("anomaly", "advisory", 3.2)
    assert fleet.row("m3")["state"] == "warning"  # advisory: never a safety alarm


def test_advisory_payload_of_modax_advise_decodes() -> None:
    payload = (
        b'{"kind": "advisory", "advisory": true, "safety_effect": "none", "note": "x",'
        b' "device_id": "m1", "state": "raised", "ts": 1800000000000, "model": "pca",'
        b' "score": 3.2, "threshold": 1.0, "recommendations": [{"code": "c", "message":'
        b' "Check the load", "severity": "warning", "evidence": {"limit_a": 6.0}}]}'
    )
    msg = decode_live("modax/devices/m1/advisory", payload)
    assert (msg.state, msg.model, msg.recommendations[0].message) == (
        "raised",
        "pca",
        "Check the load",
    )


def test_rejected_messages_are_counted_not_applied() -> None:
    fleet = FleetState()
    for topic, payload in [
        ("modax/devices/m1/telemetry", b"{not json"),
        ("modax/devices/bad id/telemetry", b'{"device_id": "bad id"}'),
    ]:
        with pytest.raises(Exception) as info:
            decode_live(topic, payload)
        fleet.reject(topic, info.value)
    assert fleet.device_ids() == []
    assert fleet.kpis()["quarantined"] == 2
    assert [q.reason for q in fleet.recent_quarantine] == ["missing_field", "not_json"]


def test_changed_since_reports_only_changed_devices() -> None:
    fleet = FleetState()
    fleet.apply(reading("m1", T0), received_ms=T0)
    fleet.apply(reading("m2", T0), received_ms=T0)
    version, ids = fleet.changed_since(0)
    assert sorted(ids) == ["m1", "m2"]
    fleet.apply(reading("m2", T0 + 100), received_ms=T0 + 100)
    assert fleet.changed_since(version)[1] == ["m2"]


def test_readings_cursor_returns_only_new_points_and_memory_is_bounded() -> None:
    fleet = FleetState(ring_size=100)
    for i in range(30):
        fleet.apply(reading("m1", T0 + i * 100), received_ms=T0)
    cursor, times, values = fleet.readings("m1")
    assert cursor == 30 and len(times) == 30
    assert values[:, 0] == pytest.approx([4.0] * 30)
    for i in range(30, 530):
        fleet.apply(reading("m1", T0 + i * 100, current=5.0), received_ms=T0)
    cursor2, times2, _ = fleet.readings("m1", cursor)
    assert cursor2 == 530
    assert len(times2) == 100  # only the ring survives
    assert times2[-1] == T0 + 529 * 100
    assert np.all(np.diff(times2) == 100)
    assert fleet.readings("m1", cursor2)[1].size == 0


def test_ring_matches_a_plain_list_reference() -> None:
    ring, reference = _Ring(7), []
    rng = np.random.default_rng(3)
    for i in range(40):
        row = rng.normal(size=12).astype(np.float32)
        ring.push(i, row)
        reference.append((i, row))
        cursor = int(rng.integers(0, i + 1))
        count, times, values = ring.since(cursor)
        expected = reference[max(cursor, len(reference) - 7) :]
        assert count == len(reference)
        assert times.tolist() == [t for t, _ in expected]
        assert np.array_equal(values, np.array([r for _, r in expected], dtype=np.float64))


def test_alarm_log_is_bounded_and_keeps_active_alarms() -> None:
    log = AlarmLog(max_alarms=5)
    for i in range(20):
        log.raise_alarm(f"m{i}", "overload", "safety", i)
        if i % 2:
            log.clear(f"m{i}", "overload", i + 1)
    kept = log.alarms()
    assert len(kept) <= 10  # 10 active ones can never be dropped
    assert sum(a.active for a in kept) == 10
    assert all(a.active for a in kept)


def test_telemetry_decoded_by_the_schema_feeds_the_state() -> None:
    payload = msgspec.json.encode(reading("m7", T0, current=11.0))
    msg = decode("modax/devices/m7/telemetry", payload)
    fleet = FleetState()
    fleet.apply(msg, received_ms=T0)
    assert fleet.row("m7")["state"] == "alarm"
