"""A live fleet view in a JupyterLab cell: refreshes per second in the browser, kernel memory.

In one run, on one local mosquitto with ``--devices`` simulated devices publishing at the
firmware's 10 Hz (``modax simulate --mqtt``), a real ``jupyter lab`` (``tests/lab_server.py``)
in headless Chromium runs, one after the other, in a fresh kernel each:

- **modax**: ``FleetOverview(shared_feed().fleet)`` in a cell (refreshed by ``modax.viz``'s
  notebook ticker, only changed cells patched), for ``--seconds``;
- **peer**: the plain Panel recipe — a ``Tabulator`` of the whole fleet frame replaced by
  ``pn.state.add_periodic_callback`` at the same period — for ``--peer-seconds``.

The browser counts, every 50 ms, whether the text of the output's table changed (a refresh that
reached the pixels); the kernel's resident memory is read from ``/proc`` every ``--sample-s``.

Usage::

    nice python bench/lab_live.py                             # 1,000 devices, 10 min + 2 min
    nice python bench/lab_live.py --seconds 180 --peer-seconds 60

The last line printed is one JSON object: refreshes per second (mean over the run) and kernel RSS
(MB) at start/end and its growth per side, and the ratio modax/peer of refreshes per second.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from modax.local import start_broker
from modax.testing import free_port, launch_chromium, wait_for

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from lab_server import JupyterLab, open_notebook, run_cells  # noqa: E402  (tests/ on the path)

SETUP = (
    "import os\nimport modax.viz\nfrom modax.viz import FleetOverview, shared_feed\n"
    "modax.viz.extension()\nfeed = shared_feed()\nos.getpid()"
)
OURS = "FleetOverview(feed.fleet, period_ms={period})"
PEER = (
    "import panel as pn\nfrom modax.viz import fleet_frame\n"
    "table = pn.widgets.Tabulator(fleet_frame(feed.fleet), page_size=25, pagination='local')\n"
    "def refresh():\n    table.value = fleet_frame(feed.fleet)\n"
    "pn.state.add_periodic_callback(refresh, period={period})\ntable"
)
COUNTER = """
() => {
  const deep = (node, found = []) => {
    node.querySelectorAll('.tabulator-cell').forEach(e => found.push(e));
    node.querySelectorAll('*').forEach(e => { if (e.shadowRoot) deep(e.shadowRoot, found); });
    return found;
  };
  const output = document.querySelectorAll('.jp-NotebookPanel .jp-Cell')[1];
  window.__changes = 0;
  let last = '';
  window.__timer = setInterval(() => {
    const text = deep(output).map(c => c.textContent).join('|');
    if (text && text !== last) { window.__changes += 1; last = text; }
  }, 50);
}
"""


def rss_mb(pid: int) -> float:
    """Resident memory of process ``pid``, in MB (Linux ``/proc``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def measure(
    page: Any, lab: JupyterLab, root: Path, name: str, view: str, seconds: float, sample_s: float
) -> dict[str, Any]:
    """Run a notebook with the setup cell and ``view``; count refreshes and sample kernel RSS."""
    notebook = {
        "cells": [
            {
                "cell_type": "code",
                "metadata": {},
                "source": s,
                "outputs": [],
                "execution_count": None,
            }
            for s in (SETUP, view)
        ],
        "metadata": {
            "kernelspec": {"name": "modax", "display_name": "modax", "language": "python"}
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (root / name).write_text(json.dumps(notebook))
    open_notebook(page, lab, name)
    run_cells(page, range(1))
    pid = int(
        page.evaluate(
            "() => window.jupyterapp.shell.currentWidget.content.widgets[0].model.outputs"
            ".toJSON().find(o => o.output_type === 'execute_result').data['text/plain']"
        )
    )
    run_cells(page, range(1, 2))
    page.locator(".jp-Cell").nth(1).locator(".tabulator-row").first.wait_for(timeout=120_000)
    page.evaluate(COUNTER)
    samples = [(0.0, rss_mb(pid))]
    start = time.monotonic()
    while (elapsed := time.monotonic() - start) < seconds:
        time.sleep(min(sample_s, seconds - elapsed))
        samples.append((round(time.monotonic() - start, 1), round(rss_mb(pid), 1)))
        print(f"{name}: {samples[-1][0]:.0f} s, kernel RSS {samples[-1][1]:.0f} MB", flush=True)
    changes = page.evaluate("() => { clearInterval(window.__timer); return window.__changes; }")
    page.evaluate("() => window.jupyterapp.commands.execute('kernelmenu:shutdown')")
    return {
        "refreshes_per_s": round(changes / (time.monotonic() - start), 2),
        "rss_mb_start": samples[0][1],
        "rss_mb_end": samples[-1][1],
        "rss_growth_mb": round(samples[-1][1] - samples[1][1], 1) if len(samples) > 1 else 0.0,
        "rss_series": samples,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=600.0)
    parser.add_argument("--peer-seconds", type=float, default=120.0)
    parser.add_argument("--period-ms", type=int, default=250)
    parser.add_argument("--sample-s", type=float, default=30.0)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    home = Path(tempfile.mkdtemp(prefix="modax-bench-lab-"))
    root = home / "notebooks"
    root.mkdir()
    broker = start_broker(free_port(), kind="mosquitto", data_dir=home / "mosquitto")
    fleet = subprocess.Popen(
        [
            *(sys.executable, "-m", "modax", "simulate", "--devices", str(args.devices)),
            *("--mqtt", broker.url, "--pool", "8", "--start", "now"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    env = {"MODAX_BROKER": broker.url, "MODAX_LAKE": str(home / "lake")}
    lab = JupyterLab(root, home, env)
    result: dict[str, Any] = {"devices": args.devices, "rate_hz": 10, "period_ms": args.period_ms}
    try:
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(120_000)
            wait_for(lambda: fleet.poll() is None, timeout=5, what="the simulated fleet")
            result["modax"] = measure(
                page,
                lab,
                root,
                "ours.ipynb",
                OURS.format(period=args.period_ms),
                args.seconds,
                args.sample_s,
            )
            result["peer"] = measure(
                page,
                lab,
                root,
                "peer.ipynb",
                PEER.format(period=args.period_ms),
                args.peer_seconds,
                args.sample_s,
            )
            browser.close()
    finally:
        lab.close()
        fleet.terminate()
        fleet.wait(30)
        broker.close()
    result["ratio_refreshes_modax_over_peer"] = round(
        result["modax"]["refreshes_per_s"] / max(result["peer"]["refreshes_per_s"], 1e-9), 2
    )
    result["loadavg"] = Path("/proc/loadavg").read_text().split()[:3]
    print(json.dumps(result))


if __name__ == "__main__":
    main()
