"""Dashboard publish-to-pixel latency and server memory, against a naive Panel dashboard.

In one run, on one local mosquitto, for each server in turn — ``modax dashboards`` (one shared
MQTT subscription per process, server-side pagination, only changed rows re-read) and the peer
``bench/naive_dashboard.py`` (one subscription per session, whole table replaced every refresh):

1. for each fleet size (``--devices``), ``N − 1`` simulated devices (``modax simulate --mqtt``, the
   firmware's 10 Hz; or a light publisher at ``--rate`` Hz) publish telemetry in the background
   while a probe device publishes ``--probes`` readings with unique current values;
   headless Chromium (Debian's ``chromium``) has the fleet table filtered to the probe device and
   a ``requestAnimationFrame`` watcher records when each value appears in the page's text. The
   latency is that moment minus the moment the message left the publisher (same machine clock);
2. ``--sessions`` browser sessions stay open on the fleet page for ``--soak-s`` seconds at the
   largest fleet size while the server's resident memory is sampled (``/proc``, Linux).

Usage::

    nice python bench/dashboard.py                            # default: ~6 min
    nice python bench/dashboard.py --soak-s 600 --probes 100 --skip-peer   # the 10-minute run
    nice python bench/dashboard.py --rate 1                   # a 1 Hz fleet (light publisher)

The last line printed is one JSON object: p50/p99 latency (ms) per fleet size and server, memory
start/end/growth, and ratios naive/modax. Goals: p99 ≤ 1,000 ms at 1,000 devices, flat memory.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np
import paho.mqtt.client as mqtt

from modax.local import start_broker
from modax.testing import free_port, launch_chromium, wait_for

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fleet_publisher import FleetPublisher, device_ids

ROOT = Path(__file__).resolve().parent.parent
WATCHER = """
() => {
  window.__seen = {};
  const find = (root, marker) => {
    for (const el of root.querySelectorAll('[tabulator-field="current_1"]')) {
      if (el.textContent.trim() === marker) return true;
    }
    for (const host of root.querySelectorAll('*')) {
      if (host.shadowRoot && find(host.shadowRoot, marker)) return true;
    }
    return false;
  };
  window.__watch = (marker) => {
    const tick = () => {
      if (find(document, marker)) { window.__seen[marker] = Date.now(); }
      else { requestAnimationFrame(tick); }
    };
    requestAnimationFrame(tick);
  };
}
"""


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def live(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            return response.status == 200
    except OSError:
        return False


class Background:
    """The fleet around the probe: ``n`` devices publishing telemetry until :meth:`close`.

    ``rate`` 0: the digital twin, ``modax simulate --mqtt`` at real time in its own process
    (every device at the firmware's 10 Hz, batched QoS 0 writes over 8 shared connections);
    otherwise :class:`FleetPublisher` in a thread at ``rate`` readings per device per second.
    Returns once the broker has delivered a reading of every device.
    """

    def __init__(self, broker: str, n: int, prefix: str, rate: float) -> None:
        self.stop = threading.Event()
        self.process: subprocess.Popen | None = None
        self.thread: threading.Thread | None = None
        seen: set[str] = set()
        watcher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-watch-{prefix}")
        watcher.on_message = lambda _c, _u, m: seen.add(m.topic.split("/")[2])
        host, port = broker.removeprefix("mqtt://").split(":")
        watcher.connect(host, int(port))
        watcher.subscribe("modax/devices/+/telemetry", 0)
        watcher.loop_start()
        if rate:
            self.publisher = FleetPublisher(broker, device_ids(n, f"{prefix}-bg"), seed=1)
            self.period = 1.0 / rate
            self.thread = threading.Thread(target=self._run, daemon=True)
            self.thread.start()
        else:
            command = [sys.executable, "-m", "modax", "simulate", "--devices", str(n)]
            command += ["--mqtt", broker, "--speed", "1", "--start", "now", "--pool", "8"]
            self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        try:
            wait_for(lambda: len(seen) >= n, 120, f"readings of all {n} background devices")
        finally:
            watcher.loop_stop()
            watcher.disconnect()

    def _run(self) -> None:
        start, tick = time.monotonic(), 0
        while not self.stop.is_set():
            self.publisher.publish_all()
            tick += 1
            self.stop.wait(max(0.0, start + tick * self.period - time.monotonic()))

    def close(self) -> None:
        self.stop.set()
        if self.thread is not None:
            self.thread.join()
            self.publisher.close()
        if self.process is not None:
            self.process.terminate()
            self.process.wait(30)


def markers(count: int) -> list[float]:
    """Unique currents (A) whose text has exactly three decimals, e.g. 5.013."""
    values = [round(5 + i / 1000, 3) for i in range(1, count * 2)]
    return [v for v in values if len(repr(v).split(".")[1]) == 3][:count]


def measure_latency(
    browser: object, url: str, broker: str, prefix: str, n: int, rate: float, probes: int
) -> dict[str, float]:
    ids = device_ids(n, prefix)
    probe_id, background = ids[0], Background(broker, n - 1, prefix, rate)
    probe = FleetPublisher(broker, [probe_id], seed=2)
    try:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(120_000)
        page.goto(url)
        search = page.get_by_placeholder("filter by device id")
        search.fill(probe_id)
        search.press("Enter")
        row = page.locator(".tabulator-row", has_text=probe_id)
        wait_for(
            lambda: probe.publish_one(probe_id, [4.0, 4.0]) and row.count(),
            120,
            f"{probe_id} in the table",
            interval=0.5,
        )
        page.evaluate(WATCHER)
        latencies = []
        for value in markers(probes):
            marker = repr(value)
            page.evaluate("m => window.__watch(m)", marker)
            sent_ms = probe.publish_one(probe_id, [value, value]) * 1000
            try:
                seen = wait_for(
                    lambda m=marker: page.evaluate("m => window.__seen[m]", m), 10, marker
                )
                latencies.append(seen - sent_ms)
            except TimeoutError:
                latencies.append(float("inf"))
            time.sleep(random.uniform(0.1, 0.6))  # desynchronise from the refresh period
        page.close()
    finally:
        probe.close()
        background.close()
    finite = np.array([v for v in latencies if np.isfinite(v)])
    return {
        "p50_ms": float(np.percentile(finite, 50)) if finite.size else float("inf"),
        "p99_ms": float(np.percentile(finite, 99)) if finite.size else float("inf"),
        "max_ms": float(finite.max()) if finite.size else float("inf"),
        "lost": len(latencies) - int(finite.size),
        "probes": len(latencies),
    }


def measure_memory(
    browser: object, url: str, pid: int, broker: str, prefix: str, n: int, rate: float, args
) -> dict[str, float]:
    background = Background(broker, n, prefix, rate)
    contexts = []
    try:
        for _ in range(args.sessions):
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            page = context.new_page()
            page.set_default_timeout(120_000)
            page.goto(url)
            page.locator(".tabulator-row").first.wait_for()
            contexts.append(context)
        samples, start = [], time.monotonic()
        while (elapsed := time.monotonic() - start) <= args.soak_s:
            samples.append((elapsed, rss_mb(pid)))
            time.sleep(min(5.0, args.soak_s / 10))
    finally:
        for context in contexts:
            context.close()
        background.close()
    t, rss = np.array(samples).T
    half = rss[len(rss) // 2 :]
    return {
        "sessions": args.sessions,
        "soak_s": args.soak_s,
        "rss_mb_start": float(rss[0]),
        "rss_mb_end": float(rss[-1]),
        "rss_mb_max": float(rss.max()),
        "growth_mb_per_min_second_half": float(np.polyfit(t[len(t) // 2 :], half, 1)[0] * 60)
        if len(half) > 1
        else 0.0,
    }


def run_server(name: str, command: list[str], env: dict, port: int, path: str, args) -> dict:
    log = Path(tempfile.mkdtemp()) / f"{name}.log"
    server = subprocess.Popen(command, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    from playwright.sync_api import sync_playwright

    try:
        wait_for(lambda: live(f"{url}/liveness") or server.poll() is not None, 180, name)
        if server.poll() is not None:
            raise RuntimeError(f"{name} exited: {log.read_text()[-2000:]}")
        result: dict[str, object] = {}
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            for n in args.devices:
                print(f"{name}: latency at {n} devices …", flush=True)
                result[str(n)] = measure_latency(
                    browser, url + path, env["MODAX_BROKER"], name, n, args.rate, args.probes
                )
                print(f"  {result[str(n)]}", flush=True)
            print(f"{name}: memory with {args.sessions} sessions for {args.soak_s} s …", flush=True)
            result["memory"] = measure_memory(
                browser,
                url + path,
                server.pid,
                env["MODAX_BROKER"],
                name,
                max(args.devices),
                args.rate,
                args,
            )
            print(f"  {result['memory']}", flush=True)
            browser.close()
        return result
    finally:
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--devices",
        type=lambda s: [int(x) for x in s.split(",")],
        default=[100, 1000],
        help="fleet sizes, e.g. 100,1000",
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=0.0,
        help="0: the simulator's fleet at 10 Hz (default); else a light publisher at this rate",
    )
    parser.add_argument("--probes", type=int, default=30, help="probe readings per fleet size")
    parser.add_argument("--sessions", type=int, default=5)
    parser.add_argument("--soak-s", type=float, default=60.0, help="memory soak, s (600: 10 min)")
    parser.add_argument("--skip-peer", action="store_true", help="measure modax only")
    args = parser.parse_args()
    if not shutil.which("chromium"):
        sys.exit("chromium is needed (apt-get install chromium)")
    work = Path(tempfile.mkdtemp(prefix="bench-dashboard-"))
    broker = start_broker(free_port(), kind="mosquitto", data_dir=work / "mosquitto")
    env = {**os.environ, "MODAX_BROKER": broker.url, "MODAX_LAKE": str(work / "lake")}
    out: dict[str, object] = {
        "devices": args.devices,
        "fleet": "simulator, 10 Hz" if not args.rate else f"publisher, {args.rate:g} Hz",
        "probes": args.probes,
    }
    try:
        port = free_port()
        out["modax"] = run_server(
            "modax",
            [sys.executable, "-m", "modax", "dashboards", "--port", str(port)],
            env,
            port,
            "/fleet",
            args,
        )
        if not args.skip_peer:
            port = free_port()
            app = ROOT / "bench" / "naive_dashboard.py"
            out["naive"] = run_server(
                "naive",
                [
                    sys.executable,
                    "-m",
                    "panel",
                    "serve",
                    str(app),
                    "--port",
                    str(port),
                    "--address",
                    "127.0.0.1",
                    "--liveness",
                    "--allow-websocket-origin",
                    f"127.0.0.1:{port}",
                ],
                env,
                port,
                "/naive_dashboard",
                args,
            )
    finally:
        broker.close()
    big = str(max(args.devices))
    ours = out["modax"]
    out["goal_p99_ms_at_largest"] = 1000.0
    out["goal_met"] = ours[big]["p99_ms"] <= 1000.0
    if "naive" in out:
        peer = out["naive"]
        out["ratio_p99_naive_over_modax"] = {
            n: peer[str(n)]["p99_ms"] / ours[str(n)]["p99_ms"] for n in args.devices
        }
        out["ratio_rss_end_naive_over_modax"] = (
            peer["memory"]["rss_mb_end"] / ours["memory"]["rss_mb_end"]
        )
    print(json.dumps(out))


if __name__ == "__main__":
    main()
