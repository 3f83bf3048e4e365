"""`modax doctor` against real things: a mosquitto and an amqtt broker, lakes on disk and S3."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest
from mqtt_helpers import make_certs

from modax.cli._doctor import check_lock, check_numba_cache, check_s3
from modax.lake import Lake
from modax.local import TLSListener
from modax.testing import free_port


def doctor(*args: str, env: dict[str, str] | None = None) -> tuple[int, dict]:
    result = subprocess.run(
        [sys.executable, "-m", "modax", "doctor", "--format", "json", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
    )
    assert result.stderr == "", result.stderr
    return result.returncode, json.loads(result.stdout.splitlines()[-1])


def by_name(report: dict) -> dict[str, dict]:
    return {c["name"]: c for c in report["checks"]}


def test_a_healthy_setup_with_mosquitto_exits_0(mosquitto, lake_dir: Path):
    ts = pa.array([datetime(2026, 1, 1, tzinfo=UTC)] * 2, pa.timestamp("ms", tz="UTC"))
    Lake(lake_dir).append("notes", pa.table({"ts": ts, "text": ["a", "b"]}))
    code, report = doctor("--broker", mosquitto.url, "--lake", str(lake_dir))
    checks = by_name(report)
    assert code == 0 and report["healthy"], report
    assert "mosquitto version" in checks["broker"]["detail"]
    assert "MQTT 5" in checks["broker"]["detail"]
    assert checks["broker kind"]["status"] == "ok"
    assert checks["lake"]["status"] == "ok"
    assert checks["table notes"]["detail"].startswith("version 0, 1 files")
    assert checks["packages"]["status"] == "ok"
    assert all(c["status"] != "fail" for c in report["checks"])


def test_no_broker_fails_and_says_how_to_start_one(lake_dir: Path):
    url = f"mqtt://127.0.0.1:{free_port()}"
    code, report = doctor("--broker", url, "--lake", str(lake_dir), "--timeout", "1")
    broker = by_name(report)["broker"]
    assert code == 1 and not report["healthy"]
    assert broker["status"] == "fail"
    assert "cannot reach broker" in broker["detail"]
    assert "modax broker" in broker["fix"]


def test_the_amqtt_fallback_is_named_and_warned_about(amqtt, lake_dir: Path):
    code, report = doctor("--broker", amqtt.url, "--lake", str(lake_dir))
    checks = by_name(report)
    assert code == 0, report
    assert "MQTT 3.1.1 only" in checks["broker"]["detail"]
    assert checks["broker kind"]["status"] == "warn"
    assert "apt-get install mosquitto" in checks["broker kind"]["fix"]


def test_a_lake_that_cannot_be_written_fails(mosquitto, tmp_path: Path):
    """Tests run as root, whom permission bits do not stop: a lake under a regular file cannot
    be created by anyone, which is what the check must catch (it writes, not only os.access)."""
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    code, report = doctor("--broker", mosquitto.url, "--lake", str(blocker / "lake"))
    lake = by_name(report)["lake"]
    assert code == 1
    assert lake["status"] == "fail"
    assert f"{blocker} is a file" in lake["detail"]
    assert "MODAX_LAKE" in lake["fix"]
    assert not any(name.startswith("table") for name in by_name(report))


def test_missing_chromium_is_a_warning_unless_the_tests_are_asked_for(mosquitto, lake_dir):
    no_tools = {"PATH": str(lake_dir.parent)}  # no chromium, no g++ there
    args = ("--broker", mosquitto.url, "--lake", str(lake_dir))
    code, report = doctor(*args, env=no_tools)
    chromium = by_name(report)["chromium"]
    assert code == 0, report
    assert chromium["status"] == "warn"
    assert "apt-get install chromium" in chromium["fix"]
    code, report = doctor(*args, "--tests", env=no_tools)
    assert code == 1
    assert by_name(report)["chromium"]["status"] == "fail"
    assert by_name(report)["g++"]["status"] == "fail"


def test_an_s3_lake_is_probed_for_reading_and_writing(mosquitto, s3_lake: str):
    code, report = doctor("--broker", mosquitto.url, "--lake", s3_lake)
    checks = by_name(report)
    assert code == 0, report
    assert checks["lake"]["detail"] == f"{s3_lake}: readable and writable"
    assert "commit protocol etag" in checks["s3"]["detail"]


def test_a_bad_s3_setting_is_named():
    check = check_s3("s3://bucket/lake", {"AWS_ENDPOINT_URL": "ftp://127.0.0.1:9000"})
    assert check is not None and check.status == "fail"
    assert "AWS_ENDPOINT_URL" in check.detail
    assert check_s3("/tmp/lake") is None


def test_versions_that_drift_from_the_lock_are_listed(tmp_path: Path):
    from importlib.metadata import version

    lock = tmp_path / "requirements.lock"
    lock.write_text(f"typer=={version('typer')}\n    # via modax\nrich==0.0.1\n")
    check = check_lock(lock)
    assert check.status == "warn"
    assert check.detail.startswith("1 of 2 locked packages differ: rich")
    assert check_lock(tmp_path / "absent.lock").ok


def test_an_unwritable_numba_cache_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(blocker / "cache"))
    check = check_numba_cache()
    assert check.status == "warn"
    assert "NUMBA_CACHE_DIR" in check.fix
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "cache"))
    assert check_numba_cache().ok


def test_tls_is_checked_with_the_configured_ca(mosquitto_factory, tmp_path: Path, lake_dir):
    certs = make_certs(tmp_path / "certs")
    listener = TLSListener(
        free_port(),
        certs / "ca.crt",
        certs / "server.crt",
        certs / "server.key",
        require_certificate=True,
    )
    broker = mosquitto_factory(tls=listener)
    env = {
        "MODAX_BROKER": str(broker.tls_url),
        "MODAX_LAKE": str(lake_dir),
        "MODAX_MQTT_CA_FILE": str(certs / "ca.crt"),
        "MODAX_MQTT_CERT_FILE": str(certs / "client.crt"),
        "MODAX_MQTT_KEY_FILE": str(certs / "client.key"),
    }
    code, report = doctor(env=env)
    assert code == 0, report
    assert "TLS verified" in by_name(report)["broker"]["detail"]
    del env["MODAX_MQTT_CA_FILE"]  # the system store does not know the private CA
    code, report = doctor(env=env)
    broker_check = by_name(report)["broker"]
    assert code == 1
    assert "does not verify" in broker_check["detail"]
    assert "MODAX_MQTT_CA_FILE" in broker_check["fix"]
