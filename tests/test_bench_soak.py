"""The soak benchmark at smoke scale: real mosquitto, `modax ingest` killed once, poison mixed in.

This checks the harness, not the soak's goals: it must publish, count every published reading as
either stored or missing, and report every figure in its last line. The goals (all stored once,
flat RSS, no reader errors) are for the full 30-minute run in ``bench/soak.py``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from modax.local import find_mosquitto
from modax.testing import require

pytestmark = [pytest.mark.slow, pytest.mark.broker]

ROOT = Path(__file__).resolve().parent.parent

KEYS = {
    "published",
    "stored",
    "duplicated",
    "missing",
    "quarantined",
    "quarantine_rows",
    "restart_first_commit_s",
    "rss_mb_start",
    "rss_mb_end",
    "rss_mb_max",
    "reader_queries",
    "reader_errors",
    "max_publish_to_queryable_s",
    "p99_publish_to_queryable_s",
    "kills",
    "minutes",
    "devices",
    "rate_hz",
    "loadavg",
}


def test_soak_smoke_counts_every_published_reading() -> None:
    require(find_mosquitto(), "mosquitto (apt-get install mosquitto)")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    command = [sys.executable, str(ROOT / "bench" / "soak.py")]
    command += ["--minutes", "0.5", "--devices", "20", "--rate-hz", "5", "--kills", "1"]
    command += ["--drain-timeout", "120", "--progress-every", "10"]
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        out, err = proc.communicate(timeout=500)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGTERM)  # the soak stops its children on SIGTERM
        out, err = proc.communicate(timeout=60)
        pytest.fail(f"bench/soak.py did not finish in 500 s: {err[-2000:]}")
    assert proc.returncode == 0, err[-3000:]
    result = json.loads(out.strip().splitlines()[-1])
    assert result.keys() >= KEYS, KEYS - result.keys()
    assert (result["minutes"], result["devices"], result["rate_hz"]) == (0.5, 20, 5.0)
    assert result["kills"] == 1
    (restart,) = result["restart_first_commit_s"]  # the restarted ingester committed, and when
    assert 0 < restart < 120, result["ingester_lifetimes"]
    assert result["published"] > 0
    assert result["stored"] + result["missing"] == result["published"], result
    assert result["reader_queries"] > 0
