"""Soak: a fleet through a real mosquitto into ``modax ingest`` for a long time, with trouble.

For ``--minutes`` (default 30), ``--devices`` simulated devices (default 1,000) publish telemetry at
``--rate-hz`` (default 10 Hz) and QoS 1 into a real mosquitto (persistence on, no queue limit,
like ``deploy/``), while:

- a second client mixes in poison and oversized messages at a low rate (one every
  ``--poison-every`` s: 2⁶³ seq, 10¹⁷ ms timestamps, 1,000-deep nesting on the telemetry, status
  and safety topics, far-future timestamps, a device id with a newline, a 60 KB topic level) and
  five 10 MB payloads spread over the run;
- ``modax ingest`` runs as a child process (one client id, persistent session) and is killed with
  SIGKILL ``--kills`` times at evenly spread moments, then restarted; its RSS (VmRSS) and failed
  lake commits (``/metrics``) are sampled every few seconds; if it exits by itself it is
  restarted too, and the exit is reported;
- ``modax compact`` and ``modax retention`` run as child processes every ``--maintenance-every`` s;
- a reader thread holds one ``modax.connect()`` connection and queries throughout (row count,
  newest seq and timestamp per device, one device's last minute), calling ``refresh()`` first.

Publish-to-queryable delay: every reading's ``timestamp`` is its publish time (epoch ms), so after
each ``refresh()`` the reader takes, per device, the time now minus the timestamp of the device's
newest visible reading. While publishing, that is an upper bound on the delay of the newest
message (by one reading period and one query round), and it grows through a stall or an
ingester restart as the delay of the messages published during it does.

At the end publishing stops, the ingester drains (the lake's count of stored readings reaches the
published count, or stops growing with the ingester's queue empty), is stopped with SIGTERM, and
the lake is counted: published readings (every device's seq 1..N, each acknowledged by the
broker), stored (distinct ``(device_id, seq)`` among them), duplicated (rows − distinct), missing,
quarantined by reason (every bad message received, as the rows' ``count`` says: a poison message
redelivered after a kill is received, and counted, twice), and the quarantine's rows.

Usage::

    nice python bench/soak.py [--minutes 30] [--devices 1000] [--rate-hz 10] [--kills 2]

Progress goes to stderr every ``--progress-every`` s; the last line of stdout is one JSON object
with every figure. The exit code is non-zero only when the harness itself fails (the broker or
the publisher cannot start, the ingester never becomes ready, the lake cannot be counted), not when
a goal is missed. Every child process is stopped on exit, also on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO

import numpy as np
import paho.mqtt.client as mqtt
from fleet_publisher import device_ids, telemetry
from rich.console import Console

import modax
from modax.config import ConfigError, parse_broker_url
from modax.lake import Lake, LakeConnection
from modax.local import BrokerProcess, start_broker
from modax.schema import topic_for
from modax.testing import free_port, wait_for

#: Fleet device ids are ``soak-0000``...; poison uses other ids so the fleet's count stays exact.
PREFIX = "soak"
#: The ingester's MQTT client id is this and the soak's pid: fixed across restarts (the broker
#: keeps its session while it is down), new for each soak (no session left from an earlier one).
INGEST_CLIENT_PREFIX = "modax-soak-ingest"
#: QoS 1 messages the publisher may have unacknowledged (paho's packet ids wrap at 65,535).
WINDOW = 20_000
#: Seconds between RSS samples of the ingester.
RSS_EVERY_S = 2.0
#: A 2⁶³ integer (one past int64) and a timestamp 3 million years ahead, in ms.
BIG_INT = 9_223_372_036_854_775_808
HUGE_TS_MS = 100_000_000_000_000_000
#: 2200-01-01 and 9999-12-31 (UTC) in epoch ms.
FAR_FUTURE_MS = (7_258_118_400_000, 253_402_214_400_000)
OVERSIZED_BYTES = 10 * 1024 * 1024
OVERSIZED_COUNT = 5

console = Console(stderr=True, highlight=False)


def log(message: str) -> None:
    console.log(f"[bench/soak] {message}")


def rss_mb(pid: int) -> float | None:
    """Resident set size (VmRSS) of process ``pid`` in MB, ``None`` once it is gone."""
    try:
        with Path(f"/proc/{pid}/status").open() as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


# --- the fleet publisher (a child process: its own GIL) -----------------------------------------


def publish_fleet(url: str, devices: int, rate_hz: float, seconds: float) -> None:
    """Publish ``devices`` devices' readings at ``rate_hz`` and QoS 1 for ``seconds``.

    Reading ``seq`` (1, 2, ...) of every device goes out in tick ``seq``; the process stops early
    on SIGINT/SIGTERM after a whole tick, waits until the broker acknowledged every message and
    prints ``done {json}`` (ticks, published, acknowledged, achieved rate, how late it ran).
    ``progress PUBLISHED`` lines go to stdout once a second.
    """
    broker = parse_broker_url(url)
    ids = device_ids(devices, PREFIX)
    rng = np.random.default_rng(17)
    currents = 4.0 + rng.normal(0, 0.3, (devices, 2))
    temps = 45.0 + rng.normal(0, 2.0, (devices, 2))
    topics = [topic_for(d, "telemetry") for d in ids]
    window = threading.Semaphore(WINDOW)
    acked = 0

    def on_publish(*_: object) -> None:
        nonlocal acked
        acked += 1
        window.release()

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"soak-fleet-{os.getpid()}")
    client.max_inflight_messages_set(0)  # see bench/ingest.py: an in-flight limit caps paho
    client.max_queued_messages_set(0)
    client.on_publish = on_publish
    client.connect(broker.host, broker.port, keepalive=30)
    client.loop_start()
    wait_for(client.is_connected, 30, "the fleet publisher's connection")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    print("ready", flush=True)
    start = time.monotonic()
    sent = tick = 0
    max_late = 0.0
    next_report = start + 1.0
    while not stop.is_set() and time.monotonic() - start < seconds:
        tick += 1
        for i, topic in enumerate(topics):
            if not window.acquire(timeout=120):
                raise RuntimeError("the broker acknowledged nothing for 120 s")
            client.publish(topic, telemetry(ids[i], tick, currents[i], temps[i]), qos=1)
        sent += devices
        currents += rng.normal(0, 0.05, currents.shape) + (4.0 - currents) * 0.05
        temps += rng.normal(0, 0.05, temps.shape) + (45.0 - temps) * 0.02
        now = time.monotonic()
        if now >= next_report:
            print(f"progress {sent}", flush=True)
            next_report = now + 1.0
        ahead = start + tick / rate_hz - now
        if ahead > 0:
            stop.wait(ahead)
        else:
            max_late = max(max_late, -ahead)
    wall = time.monotonic() - start
    wait_for(lambda: acked >= sent, 300, "the broker to acknowledge every reading", 0.05)
    client.disconnect()
    client.loop_stop()
    result = {
        "ticks": tick,
        "published": sent,
        "acknowledged": acked,
        "wall_s": wall,
        "msgs_per_s": sent / wall if wall else 0.0,
        "max_late_s": max_late,
    }
    print("done " + json.dumps(result), flush=True)


class FleetProcess:
    """The publisher child: ``python bench/soak.py _publish ...``, read line by line."""

    def __init__(self, url: str, devices: int, rate_hz: float, seconds: float) -> None:
        command = [sys.executable, __file__, "_publish", url, str(devices), str(rate_hz)]
        self.proc = subprocess.Popen([*command, str(seconds)], stdout=subprocess.PIPE, text=True)
        self.published = 0
        self.result: dict[str, float] | None = None
        self.started = threading.Event()
        self.finished = threading.Event()
        self._thread = threading.Thread(target=self._read, name="soak-fleet-reader", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            word, _, rest = line.strip().partition(" ")
            if word == "ready":
                self.started.set()
            elif word == "progress":
                self.published = int(rest)
            elif word == "done":
                self.result = json.loads(rest)
                self.published = int(self.result["published"])
        self.finished.set()


# --- poison -------------------------------------------------------------------------------------


def _deep(device_id: str, depth: int = 1000) -> bytes:
    return f'{{"device_id":"{device_id}","x":{"[" * depth}{"]" * depth}}}'.encode()


def _reading(device_id: str, seq: int, timestamp: int) -> dict[str, object]:
    vibration = {"x": 0.05, "y": -0.04, "z": 9.81, "magnitude": 9.8103}
    return {
        "timestamp": timestamp,
        "device_id": device_id,
        "motor_currents": [4.1, 4.2],
        "vibration": vibration,
        "temperatures": [45.0, 44.5],
        "seq": seq,
    }


def _safety(device_id: str, timestamp: int) -> dict[str, object]:
    flags = {"emergency_stop": False, "door_closed": True, "overload_detected": False}
    return {"timestamp": timestamp, "device_id": device_id, **flags, "temperature_ok": True}


def poison_catalogue(n: int, now_ms: int) -> list[tuple[str, str, bytes]]:
    """The ``n``-th round of poison messages: (kind, topic, payload), none from the fleet.

    ``n`` makes the seq of otherwise valid readings unique, so deduplication keeps them apart.
    """
    dev = "poison-1"
    tel, status, safety = (topic_for(dev, k) for k in ("telemetry", "status", "safety"))
    enc = json.dumps
    return [
        ("telemetry_seq_2^63", tel, enc(_reading(dev, BIG_INT, now_ms)).encode()),
        ("telemetry_timestamp_1e17", tel, enc(_reading(dev, 2 * n, HUGE_TS_MS)).encode()),
        ("telemetry_nested_1000", topic_for("d1", "telemetry"), _deep("d1")),
        ("status_nested_1000", topic_for("d1", "status"), _deep("d1")),
        ("safety_nested_1000", topic_for("d1", "safety"), _deep("d1")),
        (
            "status_uptime_2^63",
            status,
            enc({"device_id": dev, "online": True, "uptime_ms": BIG_INT}).encode(),
        ),
        (
            "status_timestamp_1e17",
            status,
            enc({"device_id": dev, "online": True, "timestamp": HUGE_TS_MS}).encode(),
        ),
        ("safety_seq_2^63", safety, enc({**_safety(dev, now_ms), "seq": BIG_INT}).encode()),
        ("telemetry_2200", tel, enc(_reading(dev, 2 * n + 1, FAR_FUTURE_MS[0])).encode()),
        ("telemetry_9999", tel, enc(_reading(dev, 2 * n + 1, FAR_FUTURE_MS[1])).encode()),
        (
            "device_id_newline",
            topic_for("m1", "telemetry"),
            enc(_reading("m1\n", n, now_ms)).encode(),
        ),
        (
            "topic_level_60kb",
            topic_for("p" * 60_000, "telemetry"),
            enc(_reading("p" * 60_000, n, now_ms)).encode(),
        ),
    ]


def oversized(i: int) -> tuple[str, str, bytes]:
    """A 10 MB telemetry payload (valid JSON, one enormous string field)."""
    head = b'{"device_id":"poison-big","x":"'
    body = b"A" * (OVERSIZED_BYTES - len(head) - 2)
    return ("oversized_10mb", topic_for(f"poison-big-{i}", "telemetry"), head + body + b'"}')


#: Every kind of poison message, for ``--poison``.
POISON_KINDS = (*(kind for kind, _, _ in poison_catalogue(0, 0)), "oversized_10mb")


class PoisonPublisher(threading.Thread):
    """Publishes one poison message of ``kinds`` every ``every`` s (cycling the catalogue) and the
    oversized ones at ``oversized_at`` (s from the start), QoS 1, on its own connection."""

    def __init__(self, url: str, kinds: set[str], every: float, oversized_at: list[float]) -> None:
        super().__init__(name="soak-poison", daemon=True)
        self.broker = broker = parse_broker_url(url)
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=f"soak-poison-{os.getpid()}"
        )
        self.client.connect(broker.host, broker.port, keepalive=60)
        self.client.loop_start()
        self.kinds = kinds
        self.every = every
        self.oversized_at = sorted(oversized_at) if "oversized_10mb" in kinds else []
        self.sent: Counter[str] = Counter()
        self.failed: Counter[str] = Counter()
        self.stop_event = threading.Event()

    def _send(self, kind: str, topic: str, payload: bytes) -> None:
        info = self.client.publish(topic, payload, qos=1)
        with contextlib.suppress(RuntimeError, ValueError):  # not connected: counted as failed
            info.wait_for_publish(timeout=60)
        try:
            published = info.is_published()
        except RuntimeError:  # the broker cut the connection (max_packet_size); paho reconnects
            published = False
        (self.sent if published else self.failed)[kind] += 1

    def _send_oversized(self, kind: str, topic: str, payload: bytes) -> None:
        """On a connection of its own: a broker with ``max_packet_size`` closes it, and paho
        would send the queued message again on every reconnect of a shared one."""
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=f"soak-big-{os.getpid()}-{kind}"
        )
        client.connect(self.broker.host, self.broker.port, keepalive=60)
        client.loop_start()
        info = client.publish(topic, payload, qos=1)
        try:  # the broker closes the connection at once; 5 s is ample for it to be read
            info.wait_for_publish(timeout=5)
            published = info.is_published()
        except (RuntimeError, ValueError):  # refused: the broker closed the connection
            published = False
        client.loop_stop()
        client.disconnect()
        (self.sent if published else self.failed)[kind] += 1

    def _catalogue(self, round_no: int) -> list[tuple[str, str, bytes]]:
        now_ms = time.time_ns() // 1_000_000
        return [m for m in poison_catalogue(round_no, now_ms) if m[0] in self.kinds]

    def run(self) -> None:
        start = time.monotonic()
        round_no = step = 0
        catalogue = self._catalogue(0)
        big = 0
        while not self.stop_event.wait(self.every):
            elapsed = time.monotonic() - start
            while big < len(self.oversized_at) and elapsed >= self.oversized_at[big]:
                self._send_oversized(*oversized(big))
                big += 1
            if not catalogue:
                continue
            if step == len(catalogue):
                round_no, step = round_no + 1, 0
                catalogue = self._catalogue(round_no)
            self._send(*catalogue[step])
            step += 1

    def close(self) -> None:
        if self.stop_event.is_set():
            return
        self.stop_event.set()
        if self.is_alive():
            self.join(120)
        self.client.disconnect()
        self.client.loop_stop()


# --- the ingester -------------------------------------------------------------------------------


@dataclass
class Lifetime:
    """One ingester process from start to kill or stop: RSS samples in MB (monotonic time, MB),
    the most failed lake commits its ``/metrics`` reported, and the seconds from its start to its
    first committed batch (a restart's gap: imports, the lake's tail read back, the backlog's
    first batch)."""

    pid: int
    started: float
    rss: list[tuple[float, float]] = field(default_factory=list)
    commit_failures: int = 0
    end: str = "running"
    first_commit_s: float | None = None

    def summary(self, warmup_s: float) -> dict[str, object]:
        warm = [mb for t, mb in self.rss if t - self.started >= warmup_s] or [
            mb for _, mb in self.rss
        ]
        return {
            "pid": self.pid,
            "end": self.end,
            "seconds": round((self.rss[-1][0] - self.started) if self.rss else 0.0, 1),
            "rss_mb_start": round(warm[0], 1) if warm else None,
            "rss_mb_end": round(warm[-1], 1) if warm else None,
            "rss_mb_max": round(max(warm), 1) if warm else None,
            "commit_failures": self.commit_failures,
            "first_commit_s": None
            if self.first_commit_s is None
            else round(self.first_commit_s, 1),
        }


class IngesterProcess:
    """``modax ingest`` as a child process, restartable under one client id."""

    def __init__(self, url: str, lake: str, log_path: Path) -> None:
        self.url = url
        self.lake = lake
        self.log_path = log_path
        self.lifetimes: list[Lifetime] = []
        self.crashes: list[dict[str, object]] = []
        self.proc: subprocess.Popen[bytes] | None = None
        self.metrics_port = 0
        self._log: IO[bytes] | None = None

    def start(self) -> None:
        self.metrics_port = free_port()
        self._log = self.log_path.open("ab")
        command = [sys.executable, "-m", "modax", "ingest", "--broker", self.url]
        client_id = f"{INGEST_CLIENT_PREFIX}-{os.getpid()}"
        command += ["--lake", self.lake, "--client-id", client_id]
        command += ["--metrics-port", str(self.metrics_port)]
        self.proc = subprocess.Popen(
            command, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
        self.lifetimes.append(Lifetime(self.proc.pid, time.monotonic()))

    def _get(self, path: str) -> bytes | None:
        try:
            url = f"http://127.0.0.1:{self.metrics_port}{path}"
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.read()
        except OSError:
            return None

    def ready(self) -> bool:
        if self.proc is None or self.proc.poll() is not None:
            raise RuntimeError(f"modax ingest exited while starting: {self.log_tail()}")
        body = self._get("/ready")
        return body is not None and bool(json.loads(body)["ok"])

    def metric(self, name: str) -> float | None:
        """An unlabelled sample from ``/metrics``; ``None`` when the ingester does not answer."""
        body = self._get("/metrics")
        if body is None:
            return None
        for line in body.decode().splitlines():
            if line.startswith(f"{name} "):
                return float(line.split()[1])
        return None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def sample(self) -> None:
        """Note the process's RSS and its count of failed lake commits."""
        if not self.alive() or self.proc is None:
            return
        life = self.lifetimes[-1]
        mb = rss_mb(self.proc.pid)
        if mb is not None:
            life.rss.append((time.monotonic(), mb))
        failures = self.metric("modax_ingest_commit_failures_total")
        if failures is not None:
            life.commit_failures = max(life.commit_failures, int(failures))

    def note_first_commit(self) -> None:
        """Note when the running process committed its first batch (polled until it has)."""
        life = self.lifetimes[-1] if self.lifetimes else None
        if life is None or life.first_commit_s is not None or not self.alive():
            return
        commits = self.metric("modax_ingest_commit_seconds_count")
        if commits:
            life.first_commit_s = time.monotonic() - life.started

    def note_exit(self) -> None:
        """Record an exit nobody asked for (a crash), with its code and the log's last lines."""
        assert self.proc is not None
        code = self.proc.returncode
        self.lifetimes[-1].end = f"exited {code}"
        self.crashes.append({"exit_code": code, "log_tail": self.log_tail(5)})
        self._close_log()

    def kill9(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
            self.lifetimes[-1].end = "SIGKILL"
        self._close_log()

    def stop(self, timeout: float = 120.0) -> int | None:
        """SIGTERM (flush and commit), SIGKILL after ``timeout`` s; the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
                self.lifetimes[-1].end = f"SIGTERM, exit {self.proc.returncode}"
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self.lifetimes[-1].end = "SIGTERM ignored, SIGKILL"
        self._close_log()
        return self.proc.returncode

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_tail(self, lines: int = 10) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


# --- housekeeping and the reader ----------------------------------------------------------------


class Maintenance(threading.Thread):
    """``modax compact`` then ``modax retention --days 1`` every ``every`` s, as child processes."""

    def __init__(self, lake: str, every: float) -> None:
        super().__init__(name="soak-maintenance", daemon=True)
        self.lake = lake
        self.every = every
        self.runs: Counter[str] = Counter()
        self.failures: Counter[str] = Counter()
        self.seconds: dict[str, float] = {}
        self.errors: list[str] = []
        self.stop_event = threading.Event()
        self.proc: subprocess.Popen[str] | None = None

    def _run(self, name: str, *args: str) -> None:
        command = [sys.executable, "-m", "modax", name, *args, "--lake", self.lake]
        began = time.monotonic()
        self.proc = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        output, _ = self.proc.communicate()
        self.runs[name] += 1
        self.seconds[name] = max(self.seconds.get(name, 0.0), time.monotonic() - began)
        if self.proc.returncode != 0 and not self.stop_event.is_set():
            self.failures[name] += 1
            self.errors.append(f"{name} exit {self.proc.returncode}: {output.strip()[-300:]}")

    def run(self) -> None:
        while not self.stop_event.wait(self.every):
            self._run("compact")
            if not self.stop_event.is_set():
                self._run("retention", "--days", "1")

    def close(self) -> None:
        self.stop_event.set()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
        if self.is_alive():
            self.join(120)


class Reader(threading.Thread):
    """Queries the lake throughout through one ``modax.connect()`` connection.

    Each round: ``refresh()``, the row count, every fleet device's newest seq and timestamp (the
    delay samples, while ``publishing`` is set), and one device's last minute. Errors are counted
    by exception type (the first message of each kept).
    """

    def __init__(self, lake: str, every: float, probe_device: str) -> None:
        super().__init__(name="soak-reader", daemon=True)
        self.lake = lake
        self.every = every
        self.probe_device = probe_device
        self.queries = 0
        self.errors: Counter[str] = Counter()
        self.first_error: dict[str, str] = {}
        self.rows = 0
        self.rows_changed = time.monotonic()
        self.max_stall_s = 0.0
        self.delays: list[np.ndarray] = []
        self.publishing = threading.Event()
        self.stop_event = threading.Event()

    def _error(self, exc: BaseException) -> None:
        name = type(exc).__name__
        self.errors[name] += 1
        if name not in self.first_error:
            self.first_error[name] = str(exc)[:300]
            log(f"reader error: {name}: {self.first_error[name]}")

    def _round(self, con: LakeConnection) -> None:
        con.refresh()
        seen = time.time()
        if "telemetry" not in con.tables:
            return
        rows = con.sql("select count(*) from telemetry").fetchall()[0][0]
        self.queries += 1
        now = time.monotonic()
        if rows != self.rows:
            self.rows, self.rows_changed = rows, now
        elif self.publishing.is_set():
            self.max_stall_s = max(self.max_stall_s, now - self.rows_changed)
        newest = con.sql(
            "select device_id, max(seq), max(timestamp) from telemetry "
            f"where device_id like '{PREFIX}-%' group by device_id"
        ).fetchall()
        self.queries += 1
        if self.publishing.is_set() and newest:
            stamps = np.array([ts for _, _, ts in newest], dtype=np.float64)
            self.delays.append(seen - stamps / 1000)
        con.sql(
            "select count(*), min(ts), max(ts), avg(current_1) from telemetry "
            "where device_id = ? and ts >= now() - interval 1 minute",
            params=[self.probe_device],
        ).fetchall()
        self.queries += 1

    def run(self) -> None:
        con: LakeConnection | None = None
        while not self.stop_event.is_set():
            try:
                if con is None:
                    con = modax.connect(self.lake)
                self._round(con)
            except Exception as exc:  # counting every failure is the point
                self._error(exc)
            self.stop_event.wait(self.every)
        if con is not None:
            con.close()

    def delay_stats(self) -> tuple[float | None, float | None]:
        """Max and p99 of the delay samples, in s."""
        if not self.delays:
            return None, None
        samples = np.concatenate(self.delays)
        return float(samples.max()), float(np.percentile(samples, 99))


def _readings(con: LakeConnection, where: str) -> tuple[int, int]:
    """Rows and distinct ``(device_id, seq)`` of the telemetry rows ``where`` selects (distinct
    per device: far less memory than distinct pairs over the whole table)."""
    if "telemetry" not in con.tables:
        return 0, 0
    rows, distinct = con.sql(
        "select coalesce(sum(n), 0), coalesce(sum(d), 0) from (select count(*) as n, "
        f"count(distinct seq) as d from telemetry where {where} group by device_id)"
    ).fetchall()[0]
    return int(rows), int(distinct)


def count_lake(lake: str, devices: int, ticks: int) -> dict[str, int | dict[str, int]]:
    """Stored (distinct), rows, missing and unexpected fleet readings; quarantine by reason.

    The published set (every device's seq 1..``ticks``) is generated in SQL and joined with the
    telemetry table, so ``missing`` is counted, not derived from ``stored``.
    """
    published = (
        f"(select printf('{PREFIX}-%04d', d) as device_id, s as seq "
        f"from range(0, {devices}) as a(d), range(1, {ticks + 1}) as b(s))"
    )
    with modax.connect(lake) as con:
        rows = distinct = missing = unexpected = 0
        if "telemetry" in con.tables:
            rows, distinct = _readings(
                con,
                f"seq between 1 and {ticks} and device_id in "
                f"(select printf('{PREFIX}-%04d', d) from range(0, {devices}) as a(d))",
            )
            all_rows, _ = _readings(con, f"device_id like '{PREFIX}-%'")
            unexpected = all_rows - rows
            missing = con.sql(
                f"select count(*) from {published} as p anti join telemetry as t "
                "on p.device_id = t.device_id and p.seq = t.seq"
            ).fetchall()[0][0]
        else:
            missing = devices * ticks
        quarantine: dict[str, int] = {}
        quarantine_rows = 0
        if "quarantine" in con.tables:  # identical bad messages of a batch share a row (count)
            pairs = con.sql(
                "select reason, sum(count), count(*) from quarantine group by 1 order by 1"
            ).fetchall()
            quarantine = {str(reason): int(n) for reason, n, _ in pairs}
            quarantine_rows = sum(int(r) for _, _, r in pairs)
        poison_stored = {}
        for table in ("telemetry", "device_safety", "devices"):
            if table in con.tables:
                poison_stored[table] = con.sql(
                    f"select count(*) from {table} where device_id not like '{PREFIX}-%'"
                ).fetchall()[0][0]
    return {
        "rows": rows,
        "stored": distinct,
        "missing": int(missing),
        "unexpected": unexpected,
        "quarantine": quarantine,
        "quarantine_rows": quarantine_rows,
        "poison_stored": poison_stored,
    }


# --- the run ------------------------------------------------------------------------------------


class TerminatedError(Exception):
    """SIGTERM: unwind like Ctrl-C so that every child is stopped."""


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise TerminatedError(f"signal {signum}")


def _stored_now(lake: str) -> int:
    with modax.connect(lake) as con:
        return _readings(con, f"device_id like '{PREFIX}-%'")[1]


def drain(ingester: IngesterProcess, lake: str, published: int, timeout: float) -> float:
    """Wait until the lake holds every published reading, or its count stops growing for 60 s
    with the ingester's queue empty (or ``timeout`` s pass); the seconds it took."""
    began = time.monotonic()
    last, changed = -1, began
    while time.monotonic() - began < timeout:
        stored = _stored_now(lake)
        if stored >= published:
            break
        now = time.monotonic()
        if stored != last:
            last, changed = stored, now
        elif now - changed >= 60 and (ingester.metric("modax_ingest_queue_depth") or 0) == 0:
            break
        if not ingester.alive():
            ingester.note_exit()
            ingester.start()
        time.sleep(2.0)
    return time.monotonic() - began


def soak(args: argparse.Namespace, workdir: Path) -> dict[str, object]:
    seconds = args.minutes * 60
    lake = args.lake or str(workdir / "lake")
    warmup = min(args.warmup, seconds / 4)
    broker: BrokerProcess | None = None
    fleet: FleetProcess | None = None
    poison: PoisonPublisher | None = None
    ingester = IngesterProcess("", lake, workdir / "ingest.log")
    maintenance = Maintenance(lake, args.maintenance_every or max(10.0, min(300.0, seconds / 3)))
    reader = Reader(lake, args.reader_every, f"{PREFIX}-{args.devices // 2:04d}")
    try:
        if args.broker:
            url = args.broker
        else:
            broker = start_broker(free_port(), kind="mosquitto", data_dir=workdir / "broker")
            url = broker.url
        ingester.url = url
        log(
            f"broker {url}, lake {lake}, {args.devices} devices × {args.rate_hz:g} Hz, "
            f"{args.minutes:g} min, {args.kills} kills"
        )
        ingester.start()
        wait_for(ingester.ready, 120, "modax ingest to be ready", 0.2)
        reader.start()
        fleet = FleetProcess(url, args.devices, args.rate_hz, seconds)
        wait_for(lambda: fleet.started.is_set() or fleet.finished.is_set(), 60, "the publisher")
        if not fleet.started.is_set():
            raise RuntimeError("the fleet publisher exited before publishing")
        reader.publishing.set()
        begin = time.monotonic()
        poison = PoisonPublisher(
            url,
            args.poison,
            args.poison_every,
            [seconds * (i + 0.5) / OVERSIZED_COUNT for i in range(OVERSIZED_COUNT)],
        )
        poison.start()
        maintenance.start()
        kills_at = [seconds * (k + 1) / (args.kills + 1) for k in range(args.kills)]
        kills = 0
        next_rss = next_progress = begin
        while not fleet.finished.is_set():
            now = time.monotonic()
            elapsed = now - begin
            if not ingester.alive():
                log(f"modax ingest exited by itself: {ingester.log_tail(3)}")
                ingester.note_exit()
                ingester.start()
            elif kills < len(kills_at) and elapsed >= kills_at[kills]:
                log(f"kill -9 modax ingest (pid {ingester.proc.pid if ingester.proc else '?'})")
                ingester.kill9()
                kills += 1
                ingester.start()
            ingester.note_first_commit()
            if now >= next_rss:
                ingester.sample()
                next_rss = now + RSS_EVERY_S
            if now >= next_progress:
                rss = ingester.lifetimes[-1].rss
                log(
                    f"{elapsed:6.0f} s · published {fleet.published:,} · lake rows "
                    f"{reader.rows:,} · ingester RSS "
                    f"{f'{rss[-1][1]:.0f} MB' if rss else 'starting'} · reader errors "
                    f"{sum(reader.errors.values())} · poison {sum(poison.sent.values())}"
                )
                next_progress = now + args.progress_every
            fleet.finished.wait(0.5)
        publish_s = time.monotonic() - begin
        reader.publishing.clear()
        poison.close()
        maintenance.close()
        if fleet.result is None or fleet.proc.wait() != 0:
            raise RuntimeError(f"the fleet publisher failed (exit {fleet.proc.wait()})")
        published = int(fleet.result["published"])
        log(f"published {published:,} in {publish_s:.0f} s; draining the ingester")
        drain_s = drain(ingester, lake, published, args.drain_timeout)
        ingester.sample()
        reader.stop_event.set()
        reader.join(120)
        exit_code = ingester.stop()
        counts = count_lake(lake, args.devices, int(fleet.result["ticks"]))
    finally:
        reader.stop_event.set()
        if poison is not None:
            poison.close()
        maintenance.close()
        if fleet is not None and fleet.proc.poll() is None:
            fleet.proc.kill()
            fleet.proc.wait()
        ingester.kill9()
        if broker is not None:
            broker.close()
    stored = int(counts["stored"])
    lives = [life.summary(warmup) for life in ingester.lifetimes]
    all_rss = [mb for life in ingester.lifetimes for _, mb in life.rss]
    max_delay, p99_delay = reader.delay_stats()
    quarantine = counts["quarantine"]
    assert isinstance(quarantine, dict)
    return {
        "benchmark": "soak",
        "minutes": args.minutes,
        "devices": args.devices,
        "rate_hz": args.rate_hz,
        "kills": kills,
        "published": published,
        "stored": stored,
        "duplicated": int(counts["rows"]) - stored,
        "missing": counts["missing"],
        "unexpected_rows": counts["unexpected"],
        "quarantined": sum(quarantine.values()),
        "quarantined_by_reason": quarantine,
        "quarantine_rows": counts["quarantine_rows"],
        "poison_sent": sum(poison.sent.values()),
        "poison_sent_by_kind": dict(sorted(poison.sent.items())),
        "poison_not_acknowledged": sum(poison.failed.values()),
        "poison_rows_in_tables": counts["poison_stored"],
        "rss_mb_start": lives[0]["rss_mb_start"],
        "rss_mb_end": lives[-1]["rss_mb_end"],
        "rss_mb_max": round(max(all_rss), 1) if all_rss else None,
        "ingester_lifetimes": lives,
        "restart_first_commit_s": [life["first_commit_s"] for life in lives[1:]],
        "ingester_crashes": ingester.crashes,
        "ingester_commit_failures": sum(life.commit_failures for life in ingester.lifetimes),
        "ingester_exit_code": exit_code,
        "reader_queries": reader.queries,
        "reader_errors": sum(reader.errors.values()),
        "reader_errors_by_type": dict(reader.errors),
        "reader_first_errors": reader.first_error,
        "max_publish_to_queryable_s": None if max_delay is None else round(max_delay, 3),
        "p99_publish_to_queryable_s": None if p99_delay is None else round(p99_delay, 3),
        "max_ingest_stall_s": round(reader.max_stall_s, 1),
        "publisher_msgs_per_s": round(float(fleet.result["msgs_per_s"])),
        "publisher_max_late_s": round(float(fleet.result["max_late_s"]), 3),
        "maintenance_runs": dict(maintenance.runs),
        "maintenance_failures": dict(maintenance.failures),
        "maintenance_max_s": {k: round(v, 1) for k, v in maintenance.seconds.items()},
        "maintenance_errors": maintenance.errors[:5],
        "drain_s": round(drain_s, 1),
        "loadavg": [round(x, 2) for x in os.getloadavg()],
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0, help="publishing time")
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--rate-hz", type=float, default=10.0, help="readings per device per s")
    parser.add_argument("--kills", type=int, default=2, help="kill -9 of the ingester")
    parser.add_argument("--lake", default=None, help="lake root (default: a temporary directory)")
    parser.add_argument(
        "--broker", default=None, help="mqtt://host:port (default: start a mosquitto)"
    )
    parser.add_argument(
        "--poison",
        default="all",
        help=f"comma-separated kinds of poison to mix in, all or none ({', '.join(POISON_KINDS)})",
    )
    parser.add_argument("--poison-every", type=float, default=2.0, help="s between poison messages")
    parser.add_argument(
        "--maintenance-every",
        type=float,
        default=None,
        help="s (default: a third of the run, 10–300)",
    )
    parser.add_argument("--reader-every", type=float, default=1.0, help="s between query rounds")
    parser.add_argument("--progress-every", type=float, default=30.0, help="s")
    parser.add_argument("--warmup", type=float, default=60.0, help="s before RSS counts as start")
    parser.add_argument("--drain-timeout", type=float, default=600.0, help="s")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args(argv)
    for name in ("minutes", "rate_hz", "poison_every", "reader_every", "progress_every"):
        if getattr(args, name) <= 0:
            parser.error(f"--{name.replace('_', '-')} must be above 0")
    kinds = {k.strip() for k in args.poison.split(",") if k.strip()}
    if kinds == {"all"}:
        kinds = set(POISON_KINDS)
    elif kinds == {"none"}:
        kinds = set()
    unknown = kinds - set(POISON_KINDS)
    if unknown:
        parser.error(
            f"--poison: unknown kind {', '.join(sorted(unknown))} (kinds: all, none, "
            f"{', '.join(POISON_KINDS)})"
        )
    args.poison = kinds
    if args.lake is not None and Lake(args.lake).exists("telemetry"):
        parser.error(f"--lake {args.lake}: has a telemetry table; the soak needs a new lake")
    if args.broker is not None:
        try:
            parse_broker_url(args.broker, name="--broker")
        except ConfigError as exc:
            parser.error(str(exc))
    if args.devices < 1 or args.kills < 0:
        parser.error("--devices must be 1 or more and --kills 0 or more")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _raise_stop)
    workdir = Path(tempfile.mkdtemp(prefix="modax-soak-"))
    try:
        result = soak(args, workdir)
    except (KeyboardInterrupt, TerminatedError):
        log("interrupted: every child process is stopped")
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        return 130
    except Exception as exc:  # a harness failure: say what, keep the evidence, exit non-zero
        log(f"harness failure: {type(exc).__name__}: {exc} (logs and lake kept in {workdir})")
        return 1
    if not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    log(
        f"published {result['published']:,} · stored {result['stored']:,} · duplicated "
        f"{result['duplicated']:,} · missing {result['missing']:,} · quarantined "
        f"{result['quarantined']:,} ({result['quarantine_rows']:,} rows) · RSS "
        f"{result['rss_mb_start']} → {result['rss_mb_end']} MB "
        f"(max {result['rss_mb_max']}) · reader errors {result['reader_errors']} · max delay "
        f"{result['max_publish_to_queryable_s']} s · load {result['loadavg']}"
    )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "_publish":
        publish_fleet(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]))
    else:
        sys.exit(main())
