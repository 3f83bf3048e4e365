"""The notebooks in a real JupyterLab, in Debian's Chromium, on this machine without internet.

The suite starts ``jupyter lab`` itself (``tests/lab_server.py``: free port, token, the
project's ``modax`` kernel in a private ``JUPYTER_DATA_DIR``, no browser of its own) and
Playwright drives Chromium through it: every worked notebook run top to bottom
(``SMALL = True``) shows every plot drawn, with no empty output and no JavaScript error; in
notebook 07 the live fleet view cell follows the twin publishing to a real mosquitto, and turns
a device to the alarm state when the next cell injects an overload into it through the twin's
command topic (``modax.twin.Twin``).
"""

from __future__ import annotations

import importlib.util
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lab_server import PLOTS_JS, JupyterLab, open_notebook, run_cells, small_copy

from modax.local import find_mosquitto
from modax.testing import require, wait_for

ROOT = Path(__file__).resolve().parent.parent
#: Every worked notebook, run top to bottom with ``SMALL = True`` as a data scientist would.
NOTEBOOKS = sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb"))
LIVE = "07-detector-vs-live-twin"
#: The device notebook 07 overloads first (``devices[1]``), and one it leaves alone.
OVERLOADED, HEALTHY = "sim-0001", "sim-0000"


def cells_of(name: str) -> list[dict[str, Any]]:
    """The cells of notebook ``name``, as stored."""
    return json.loads((ROOT / "notebooks" / f"{name}.ipynb").read_text())["cells"]


def cell_index(name: str, text: str) -> int:
    """The index of the code cell of notebook ``name`` whose source contains ``text``."""
    found = [
        i
        for i, cell in enumerate(cells_of(name))
        if cell["cell_type"] == "code" and text in "".join(cell["source"])
    ]
    assert len(found) == 1, f"{name}: {len(found)} code cells hold {text!r}"
    return found[0]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterLab]:
    require(shutil.which("chromium"), "chromium (apt-get install chromium)")
    require(importlib.util.find_spec("jupyterlab"), "jupyterlab (pip install '.[lab]')")
    require(find_mosquitto(), "mosquitto (apt-get install mosquitto)")
    home = tmp_path_factory.mktemp("jupyter")
    root = home / "repo" / "notebooks"
    root.mkdir(parents=True)
    for folder in ("data", "firmware"):  # what the notebooks read as ../data, ../firmware
        (root.parent / folder).symlink_to(ROOT / folder)
    for name in NOTEBOOKS:
        small_copy(ROOT / "notebooks" / f"{name}.ipynb", root / f"{name}.ipynb", home / name)
    server = JupyterLab(root, home, {"MODAX_LAKE": str(home / "lake")})
    yield server
    server.close()


@pytest.fixture
def page(page: Any) -> Any:
    """The shared page with 60 s to find things (a kernel starts) and its JS errors collected."""
    page.set_default_timeout(60_000)
    page.js_errors = []
    page.on("pageerror", lambda error: page.js_errors.append(str(error)))
    page.on(
        "console",
        lambda message: message.type == "error" and page.js_errors.append(message.text),
    )
    page.on("requestfailed", lambda request: page.js_errors.append(f"failed: {request.url}"))
    return page


def assert_every_plot_shown(page: Any, name: str) -> None:
    """Every output of the notebook on screen shows something, each plot drawn; no JS error."""
    page.wait_for_function(f"() => ({PLOTS_JS})().roots.every(r => !r.plots || r.drawn)")
    shown = page.evaluate(PLOTS_JS)
    plots = [r for r in shown["roots"] if r["height"] > 0]
    assert plots, f"{name}: no plot output at all"
    blank = [r for r in plots if not (r["drawn"] or r["svgs"] or r["text"].strip())]
    assert not blank, f"{name}: outputs that show nothing: {blank}"
    assert shown["empty"] == [], f"{name}: empty output areas {shown['empty']}"
    assert page.js_errors == [], f"{name}: JavaScript errors {page.js_errors}"


@pytest.mark.parametrize("name", [n for n in NOTEBOOKS if n != LIVE])
def test_notebook_shows_every_plot_in_jupyterlab(lab: JupyterLab, page: Any, name: str) -> None:
    open_notebook(page, lab, f"{name}.ipynb")
    run_cells(page)
    assert_every_plot_shown(page, name)


def output_of(page: Any, cell: int) -> Any:
    """The output area of the ``cell``-th cell (0-based) of the notebook on screen."""
    return (
        page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell")
        .nth(cell)
        .locator(".jp-OutputArea")
    )


def test_notebook_07_live_fleet_view_follows_the_twin_and_shows_the_injected_overload(
    lab: JupyterLab, page: Any
) -> None:
    """Notebook 07's own cells: the fleet view cell follows the live twin, the next cell
    overloads one device, and that device turns to the alarm state in the view's output; the
    notebook then runs to its end and shows every plot."""
    view = cell_index(LIVE, "FleetOverview(feed.fleet")
    overload = cell_index(LIVE, 'inject(devices[1], "overload")')
    open_notebook(page, lab, f"{LIVE}.ipynb")
    run_cells(page, range(view + 1))
    overview = output_of(page, view)
    last_reading = overview.locator(".tabulator-row", has_text=HEALTHY).locator(
        '[tabulator-field="last_reading"]'
    )
    last_reading.wait_for(timeout=20_000)
    first = last_reading.inner_text()
    wait_for(
        lambda: last_reading.inner_text() not in ("", first),
        timeout=10,
        what=f"{HEALTHY}'s last reading to change in the output",
    )
    run_cells(page, range(view + 1, overload + 1))
    alarm = overview.locator(".tabulator-row", has_text=OVERLOADED).locator(
        '.modax-state[data-state="alarm"]'
    )
    alarm.wait_for(timeout=20_000)
    others = overview.locator(".tabulator-row", has_text=HEALTHY).locator(
        '.modax-state[data-state="alarm"]'
    )
    assert others.count() == 0
    run_cells(page, range(overload + 1, len(cells_of(LIVE))))
    assert_every_plot_shown(page, LIVE)
