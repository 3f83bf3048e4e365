"""Observability: JSON log lines and the /metrics, /health, /ready endpoint."""

from __future__ import annotations

import json
import logging
import sys
import urllib.error
import urllib.request

import pytest
from prometheus_client import CollectorRegistry, Counter

from modax.obs import JsonFormatter, ObsServer, configure_logging


def test_json_log_lines_carry_time_level_message_extras_and_exceptions():
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.getLogger("modax.x").makeRecord(
            "modax.x", logging.ERROR, __file__, 1, "commit %s", ("failed",), True, extra={"rows": 3}
        )
        record.exc_info = sys.exc_info()
    line = json.loads(JsonFormatter().format(record))
    assert line["level"] == "ERROR"
    assert line["msg"] == "commit failed"
    assert line["rows"] == 3
    assert line["ts"].endswith("Z")
    assert "ValueError: boom" in line["exc"]


def test_configure_logging_json_writes_one_object_per_line(capsys):
    configure_logging("json", "INFO")
    logging.getLogger("modax.test").info("hello", extra={"device": "m1"})
    logging.getLogger("modax.test").debug("hidden")
    lines = capsys.readouterr().err.strip().splitlines()
    assert [json.loads(x)["msg"] for x in lines] == ["hello"]
    assert json.loads(lines[0])["device"] == "m1"
    configure_logging("text", "INFO")


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


@pytest.fixture
def server():
    registry = CollectorRegistry()
    Counter("modax_test_things", "Things.", registry=registry).inc(2)
    state = {"ready": False}
    obs = ObsServer(
        registry, lambda: (True, {}), lambda: (state["ready"], {"why": "no broker"})
    ).start()
    yield obs, state
    obs.stop()


def test_metrics_health_and_ready(server):
    obs, state = server
    status, body = _get(f"{obs.url}/metrics")
    assert status == 200
    assert b"modax_test_things_total 2.0" in body
    assert _get(f"{obs.url}/health") == (200, b'{"ok": true}')
    status, body = _get(f"{obs.url}/ready")
    assert (status, json.loads(body)) == (503, {"ok": False, "why": "no broker"})
    state["ready"] = True
    assert _get(f"{obs.url}/ready")[0] == 200
    assert _get(f"{obs.url}/nope")[0] == 404
