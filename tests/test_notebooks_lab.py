"""The notebooks in a real JupyterLab, in Debian's Chromium, on this machine without internet.

The suite starts ``jupyter lab`` itself (``tests/lab_server.py``: free port, token, the
project's ``modax`` kernel in a private ``JUPYTER_DATA_DIR``, no browser of its own) and
Playwright drives Chromium through it: a worked notebook run top to bottom (``SMALL = True``)
shows every plot drawn, with no empty output and no JavaScript error; a live fleet view in a
cell follows a simulated fleet publishing to a real mosquitto, and turns a device to the alarm
state when the next cell injects an overload into it through the twin's command topic
(``modax.twin.Twin``, the fleet being ``modax simulate --mqtt``).
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lab_server import PLOTS_JS, JupyterLab, open_notebook, run_cells, small_copy

from modax.local import BrokerProcess, find_mosquitto, start_broker
from modax.testing import free_port, launch_chromium, require, wait_for

ROOT = Path(__file__).resolve().parent.parent
#: Worked notebooks run in the browser: those whose plots are the point of the notebook and
#: that run in well under a minute with ``SMALL = True`` (papermill runs all six, headless).
IN_BROWSER = ["01-quickstart", "03-aggregation-and-safety"]
OVERLOADED = "sim-0002"


def code_cell(source: str) -> dict[str, Any]:
    return {
        "cell_type": "code",
        "metadata": {},
        "source": source,
        "outputs": [],
        "execution_count": None,
    }


LIVE_NOTEBOOK = [
    code_cell("import modax.viz\n\nmodax.viz.extension()"),
    code_cell(
        "from modax.viz import FleetOverview, shared_feed\n\n"
        "feed = shared_feed()  # MODAX_BROKER: the test's mosquitto"
    ),
    code_cell("FleetOverview(feed.fleet, period_ms=250)"),
    code_cell(
        "import os\n\nfrom modax.twin import Twin\n\n"
        "with Twin.from_url(os.environ['MODAX_BROKER']) as twin:\n"
        f"    ack = twin.inject({OVERLOADED!r}, 'overload', severity=1.0, duration_s=300)\n"
        "assert ack.accepted, ack"
    ),
]


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    """A mosquitto of this module's own: the fleet's ``sim-*`` ids are no other test's."""
    require(find_mosquitto(), "mosquitto (apt-get install mosquitto)")
    with start_broker(
        free_port(), kind="mosquitto", data_dir=tmp_path_factory.mktemp("mosquitto")
    ) as process:
        yield process


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory, broker: BrokerProcess) -> Iterator[JupyterLab]:
    require(shutil.which("chromium"), "chromium (apt-get install chromium)")
    require(importlib.util.find_spec("jupyterlab"), "jupyterlab (pip install '.[lab]')")
    home = tmp_path_factory.mktemp("jupyter")
    root = home / "notebooks"
    root.mkdir()
    for name in IN_BROWSER:
        small_copy(ROOT / "notebooks" / f"{name}.ipynb", root / f"{name}.ipynb", home / "lake")
    live = json.loads((ROOT / "notebooks" / "01-quickstart.ipynb").read_text())
    live["cells"] = LIVE_NOTEBOOK
    (root / "live.ipynb").write_text(json.dumps(live))
    server = JupyterLab(root, home, {"MODAX_BROKER": broker.url, "MODAX_LAKE": str(home / "lake")})
    yield server
    server.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.js_errors = []
    page.on("pageerror", lambda error: page.js_errors.append(str(error)))
    page.on(
        "console",
        lambda message: message.type == "error" and page.js_errors.append(message.text),
    )
    page.on("requestfailed", lambda request: page.js_errors.append(f"failed: {request.url}"))
    yield page
    context.close()


@pytest.mark.parametrize("name", IN_BROWSER)
def test_notebook_shows_every_plot_in_jupyterlab(lab: JupyterLab, page: Any, name: str) -> None:
    open_notebook(page, lab, f"{name}.ipynb")
    run_cells(page)
    page.wait_for_function(f"() => ({PLOTS_JS})().roots.every(r => !r.plots || r.drawn)")
    shown = page.evaluate(PLOTS_JS)
    plots = [r for r in shown["roots"] if r["height"] > 0]
    assert plots, f"{name}: no plot output at all"
    blank = [r for r in plots if not (r["drawn"] or r["svgs"] or r["text"].strip())]
    assert not blank, f"{name}: outputs that show nothing: {blank}"
    assert shown["empty"] == [], f"{name}: empty output areas {shown['empty']}"
    assert page.js_errors == [], f"{name}: JavaScript errors {page.js_errors}"


def output_of(page: Any, cell: int) -> Any:
    """The output area of the ``cell``-th cell (0-based) of the notebook on screen."""
    return (
        page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell")
        .nth(cell)
        .locator(".jp-OutputArea")
    )


@pytest.fixture
def fleet(broker: BrokerProcess) -> Iterator[subprocess.Popen[bytes]]:
    """``modax simulate --devices 3 --mqtt …``: a live twin publishing at 10 Hz."""
    command = [sys.executable, "-m", "modax", "simulate", "--devices", "3", "--mqtt", broker.url]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    yield process
    process.kill()
    process.wait()


def test_live_fleet_view_in_a_cell_follows_the_fleet_and_shows_an_injected_overload(
    lab: JupyterLab, page: Any, fleet: subprocess.Popen[bytes]
) -> None:
    open_notebook(page, lab, "live.ipynb")
    run_cells(page, range(3))
    overview = output_of(page, 2)
    row = overview.locator(".tabulator-row", has_text="sim-0001")
    row.wait_for(timeout=20_000)
    last_reading = row.locator('[tabulator-field="last_reading"]')
    first = last_reading.inner_text()
    wait_for(
        lambda: last_reading.inner_text() not in ("", first),
        timeout=10,
        what="sim-0001's last reading to change in the output",
    )
    run_cells(page, range(3, 4))
    alarm = overview.locator(".tabulator-row", has_text=OVERLOADED).locator(
        '.modax-state[data-state="alarm"]'
    )
    alarm.wait_for(timeout=20_000)
    others = overview.locator(".tabulator-row", has_text="sim-0001").locator(
        '.modax-state[data-state="alarm"]'
    )
    assert others.count() == 0
    assert page.js_errors == [], page.js_errors
