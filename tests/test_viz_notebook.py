"""Live views displayed the way a notebook displays them: on a kernel's event loop, over a comm.

Panel renders a notebook output into a Bokeh document tied to a comm, and removes its models
when JupyterLab reports the output gone (``panel.config._cleanup_panel``, what the
``@pyviz/jupyterlab_pyviz`` extension asks for when a cell is cleared or run again). These
tests do the same without a browser; ``test_notebooks_lab.py`` drives a real JupyterLab.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import panel as pn
from bokeh.document import Document
from panel.config import _cleanup_panel
from panel.io.model import add_to_doc
from pyviz_comms import Comm

from modax.schema import Telemetry, Vibration
from modax.viz import FleetOverview, FleetState, FleetTable
from modax.viz._periodic import notebook_refreshes

T0 = 1_800_000_000_000


class RecordingComm(Comm):
    """A comm that keeps what Panel sends to the browser (a notebook output's channel)."""

    def __init__(self) -> None:
        super().__init__()
        self._comm = True  # open: Panel sends at once instead of retrying later
        self.sent: list[object] = []

    def send(self, data: object = None, metadata: object = None, buffers: object = ()) -> None:
        self.sent.append((data, list(buffers or ())))


def reading(device: str, ts: int, current: float = 4.0) -> Telemetry:
    return Telemetry(ts, device, [current, current], Vibration(0, 0, 9.8, 9.8), [40.0], seq=ts)


def display(view: pn.viewable.Viewer) -> tuple[str, RecordingComm]:
    """Render ``view`` as a notebook output does; the output's id and its comm."""
    comm, doc = RecordingComm(), Document()
    root = pn.panel(view).get_root(doc, comm)
    add_to_doc(root, doc, hold=True)  # as panel.io.notebook.render_mimebundle does
    return root.ref["id"], comm


async def until(condition: Callable[[], object], timeout: float, what: str) -> None:
    """Let the kernel's loop run until ``condition()`` holds (the refreshes run on this loop)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")
        await asyncio.sleep(0.02)


def test_a_displayed_overview_refreshes_on_the_kernel_loop_and_pushes_over_its_comm() -> None:
    async def cell() -> None:
        fleet = FleetState()
        overview = FleetOverview(fleet, period_ms=50, table=FleetTable(fleet, min_interval_s=0))
        shown, comm = display(overview)
        sent_before = len(comm.sent)
        fleet.apply(reading("nb-1", T0), received_ms=T0)
        await until(lambda: overview.kpi["devices"].value == 1, 5, "the KPI to count nb-1")
        await until(lambda: "nb-1" in overview.table.value["device_id"].tolist(), 5, "nb-1's row")
        await until(lambda: len(comm.sent) > sent_before, 5, "an update sent over the comm")
        fleet.apply(reading("nb-1", T0 + 100, current=12.0), received_ms=T0 + 100)
        await until(lambda: overview.table.value.loc[0, "state"] == "alarm", 5, "nb-1 in alarm")
        _cleanup_panel(shown)

    asyncio.run(cell())


def test_running_a_cell_ten_times_leaves_one_view_refreshing() -> None:
    fleet = FleetState()
    fleet.apply(reading("nb-2", T0), received_ms=T0)
    runs: list[int] = []
    before = notebook_refreshes()["on_screen"]  # other tests' views

    class CountedOverview(FleetOverview):
        run = -1

        def refresh(self) -> None:
            runs.append(self.run)
            super().refresh()

    async def notebook() -> None:
        shown: str | None = None
        for run in range(10):
            if shown is not None:
                _cleanup_panel(shown)  # JupyterLab clears the output before the cell runs again
            view = CountedOverview(fleet, period_ms=20)
            view.run = run
            shown, _ = display(view)
        runs.clear()
        await until(lambda: len(runs) >= 5, 5, "refreshes of the last run's view")
        assert set(runs) == {9}, f"views of earlier runs still refresh: {sorted(set(runs))}"
        assert notebook_refreshes()["on_screen"] == before + 2  # the overview and its events
        _cleanup_panel(shown)
        sentinel = CountedOverview(fleet, period_ms=20)  # the next run, on the same ticker
        sentinel.run = 10
        shown, _ = display(sentinel)
        runs.clear()
        await until(lambda: runs.count(10) >= 5, 5, "refreshes of the next view")
        assert 9 not in runs, "a cleared output still refreshes"
        _cleanup_panel(shown)

    asyncio.run(notebook())
    assert notebook_refreshes()["on_screen"] == before


def test_outside_a_kernel_loop_nothing_is_scheduled() -> None:
    before = notebook_refreshes()["tickers"]
    FleetOverview(FleetState(), period_ms=250)
    assert notebook_refreshes()["tickers"] == before
