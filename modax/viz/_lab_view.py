"""The model lab: pick data, a detector and its parameters, run, see detections and metrics.

Every input has bounds, checked on the server before anything runs (a browser can send any
value whatever the widget's ``start``/``end``): a refused input names the field and its range.
In a served app each run is a job in a child process (:mod:`modax.viz._jobs`), not on the event
loop, so every other session (the fleet overview) keeps updating while a fit runs; the page shows
the job's progress, a *Cancel* button that ends it, and any error as a notification.
"""

from __future__ import annotations

import logging
import math
import re
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import holoviews as hv
import numpy as np
import pandas as pd
import panel as pn

from modax.lake import LakeConnection
from modax.models.anomaly import DETECTORS
from modax.models.datasets.skab import find_skab
from modax.models.metrics import events
from modax.models.wear import DEFAULT_MODELS
from modax.schema import DEVICE_ID_PATTERN
from modax.viz._backend import use_bokeh
from modax.viz._cells import html_text
from modax.viz._jobs import Job, JobCancelledError, JobFailedError, report, start_job
from modax.viz._lab import (
    DetectionRequest,
    DetectionRun,
    Simulate,
    detect,
    detector_params,
    register_detector,
    run_rul,
)

__all__ = ["MAX_LAKE_RANGE", "ModelLab", "metrics_frame"]

_log = logging.getLogger(__name__)

_METRICS = {
    "f1": "F1 (points)",
    "far": "false alarm rate (%)",
    "mar": "missed alarm rate (%)",
    "event_precision": "event precision",
    "event_recall": "event recall",
    "mean_delay_s": "mean detection delay (rows, s at 1 Hz)",
    "nab": "NAB score (standard)",
    "series": "series scored",
}
#: Longest time range the *lake* source reads.
MAX_LAKE_RANGE = timedelta(hours=24)
#: Longest text a detector parameter takes, in characters.
_MAX_TEXT = 64
#: The C-MAPSS subset the remaining-life section fits and scores on.
_SUBSET = "FD001"


def metrics_frame(metrics: dict[str, float]) -> pd.DataFrame:
    """The figures of a run as a two-column table (``metric``, ``value``).

    Examples
    --------
    >>> metrics_frame({"f1": 0.8, "far": 12.5}).to_dict("records")[0]
    {'metric': 'F1 (points)', 'value': 0.8}
    """
    rows = [
        {"metric": label, "value": round(float(metrics[key]), 4)}
        for key, label in _METRICS.items()
        if key in metrics
    ]
    return pd.DataFrame(rows, columns=["metric", "value"])


def _param_widget(name: str, value: Any) -> pn.widgets.Widget | None:
    """A widget for one detector parameter, bounded to 10 × its default (at least ±1,000)."""
    if isinstance(value, bool):
        return pn.widgets.Checkbox(label=name, value=value)
    high = max(10 * abs(value), 1000) if isinstance(value, int | float) else 0
    if isinstance(value, int):
        return pn.widgets.IntInput(label=name, value=value, start=min(value, 0), end=high)
    if isinstance(value, float):
        return pn.widgets.FloatInput(label=name, value=value, start=-high, end=high)
    if isinstance(value, str):
        return pn.widgets.TextInput(label=name, value=value, max_length=_MAX_TEXT)
    return None


def check_bounds(widget: pn.widgets.Widget) -> None:
    """Raise :class:`ValueError` naming ``widget``'s label when its value is out of its bounds.

    Numbers must be finite and within ``start`` … ``end``; text at most ``max_length`` long.

    Examples
    --------
    >>> check_bounds(pn.widgets.IntInput(label="Devices", value=60, start=1, end=50))
    Traceback (most recent call last):
    ...
    ValueError: Devices: 60 is outside 1 … 50
    """
    value = widget.value
    if isinstance(widget, pn.widgets.TextInput):
        if len(value) > widget.max_length:
            raise ValueError(f"{widget.label}: longer than {widget.max_length} characters")
        return
    if isinstance(value, bool):
        return
    if value is None or not math.isfinite(value):
        raise ValueError(f"{widget.label}: a finite number is needed, not {value}")
    low, high = widget.start, widget.end
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"{widget.label}: {value} is outside {low} … {high}")


class ModelLab(pn.viewable.Viewer):
    """Interactive detector and remaining-life experiments.

    Parameters
    ----------
    con : LakeConnection
        DuckDB over the lake (the *lake* source).
    data_dir : str or Path
        Folder with ``skab/`` and ``cmapss/`` sample data.
    simulate : callable, optional
        The *simulator* source: ``simulate(scenario, devices, duration_s, seed)`` returning
        labelled series (a module-level function: jobs run in a child process); without it
        that source is not offered.
    scenarios : list of str
        Scenario names offered with ``simulate``.

    Examples
    --------
    >>> import tempfile
    >>> from modax import connect
    >>> lab = ModelLab(connect(tempfile.mkdtemp()), "data")
    >>> lab.detector.value
    'level-shift'
    """

    def __init__(
        self,
        con: LakeConnection,
        data_dir: str | Path,
        simulate: Simulate | None = None,
        scenarios: tuple[str, ...] = (),
        **params: object,
    ) -> None:
        super().__init__(**params)
        use_bokeh()
        self.con = con
        self.data_dir = Path(data_dir)
        self.simulate = simulate
        sources = ["SKAB file", "lake time range"] + (["simulator scenario"] if simulate else [])
        self.source = pn.widgets.RadioButtonGroup(options=sources, value="SKAB file")
        skab = {str(p.relative_to(self.data_dir / "skab")): p for p in self._skab_files()}
        labelled = [name for name in skab if not name.startswith("anomaly-free")]
        self.skab_file = pn.widgets.Select(
            label="SKAB file", options=skab, value=skab[labelled[0]] if labelled else None
        )
        now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
        self.lake_range = pn.widgets.DatetimeRangePicker(
            label="Time range (UTC)", value=(now - timedelta(hours=1), now)
        )
        self.lake_device = pn.widgets.TextInput(
            label="Device (empty: all)", value="", max_length=64
        )
        self.scenario = pn.widgets.Select(label="Scenario", options=list(scenarios))
        self.sim_devices = pn.widgets.IntInput(label="Devices", value=4, start=1, end=50)
        self.sim_duration = pn.widgets.IntInput(
            label="Simulated s", value=1800, start=600, end=7200
        )
        self.detector = pn.widgets.Select(
            label="Detector", options=list(DETECTORS), value="level-shift"
        )
        self.train_rows = pn.widgets.IntInput(
            label="Training rows", value=400, start=10, end=100_000
        )
        self.params = pn.Column()
        self.run_button = pn.widgets.Button(label="Run detector", color="primary")
        self.status = pn.pane.HTML("")
        self.progress = pn.indicators.Progress(
            value=0, max=100, visible=False, width=360, bar_color="primary"
        )
        self.cancel_button = pn.widgets.Button(label="Cancel", visible=False, width=110)
        self.cancel_button.on_click(lambda _event: self.cancel())
        self.register_name = pn.widgets.TextInput(
            label="Register as", value="", max_length=64, visible=False
        )
        self.register_button = pn.widgets.Button(
            label="Register for live use", visible=False, button_type="success"
        )
        self.register_button.on_click(self._register_clicked)
        self.registrable: DetectionRequest | None = None
        self.job: Job | None = None
        self.metrics = pn.widgets.Tabulator(
            metrics_frame({}), show_index=False, disabled=True, label="Metrics", width=360
        )
        self.plot = pn.pane.HoloViews(hv.Div(""), sizing_mode="stretch_width")
        self.rul_model = pn.widgets.Select(
            label="Remaining-life model", options=list(DEFAULT_MODELS)
        )
        self.rul_units = pn.widgets.IntInput(label="Training units", value=20, start=5, end=100)
        self.rul_button = pn.widgets.Button(label="Run remaining-life model")
        self.rul_metrics = pn.widgets.Tabulator(
            pd.DataFrame(columns=["metric", "value"]), show_index=False, disabled=True, width=360
        )
        self.detector.param.watch(lambda _e: self._show_params(), "value")
        self.source.param.watch(lambda _e: self._show_params(), "value")
        self.run_button.on_click(self._run_clicked)
        self.rul_button.on_click(self._rul_clicked)
        self._show_params()
        if pn.state.curdoc is not None:  # a closed browser tab ends its job
            pn.state.on_session_destroyed(lambda _context: self.cancel())

    def _skab_files(self) -> list[Path]:
        root = self.data_dir / "skab"
        return find_skab(root) if root.is_dir() else []

    def _show_params(self) -> None:
        kind = "skab" if self.source.value == "SKAB file" else "modax"
        defaults = DETECTORS[self.detector.value].build(0).get_params(deep=False)
        defaults |= detector_params(self.detector.value, kind)
        widgets = [_param_widget(k, v) for k, v in sorted(defaults.items())]
        self.params.objects = [w for w in widgets if w is not None]

    def _param_values(self) -> dict[str, Any]:
        kind = "skab" if self.source.value == "SKAB file" else "modax"
        values = detector_params(self.detector.value, kind)
        values |= {w.label: w.value for w in self.params.objects}
        return values

    @property
    def busy(self) -> bool:
        """Whether a run of this page is going on."""
        return self.job is not None

    def _request(self) -> DetectionRequest:
        """The inputs of a detector run, each checked against its bounds (:func:`check_bounds`)."""
        for widget in (self.train_rows, *self.params.objects):
            check_bounds(widget)
        source = self.source.value
        start, end = (t.replace(tzinfo=UTC) for t in self.lake_range.value)
        device = self.lake_device.value or None
        if source == "lake time range":
            check_bounds(self.lake_device)
            if device is not None and not DEVICE_ID_PATTERN.match(device):
                raise ValueError(f"{self.lake_device.label}: not a device id")
            if not timedelta(0) < end - start <= MAX_LAKE_RANGE:
                raise ValueError(
                    f"{self.lake_range.label}: the range must be longer than 0 and at most "
                    f"{MAX_LAKE_RANGE.total_seconds() / 3600:g} h"
                )
        if source == "simulator scenario":
            check_bounds(self.sim_devices)
            check_bounds(self.sim_duration)
        return DetectionRequest(
            source,
            self.skab_file.value,
            (start, end),
            device,
            self.scenario.value,
            int(self.sim_devices.value),
            float(self.sim_duration.value),
            self.detector.value,
            int(self.train_rows.value),
            self._param_values(),
        )

    def _show_detection(self, result: DetectionRun, request: DetectionRequest) -> None:
        self.registrable = request if request.source == "lake time range" else None
        self.register_name.value = f"{request.detector}-lab"
        self.register_name.visible = self.register_button.visible = self.registrable is not None
        self.metrics.value = metrics_frame(result.metrics)
        self.plot.object = _detection_plot(result)
        self.status.object = (
            f'<span class="modax-lab-done">{html_text(result.detector)}</span> '
            f"on {result.series} series "
            f"in {result.elapsed_s:.1f} s — plot shows {html_text(result.first_series)}"
        )

    def _fail(self, exc: Exception) -> None:
        """Show why a run could not happen: in the status line and as a notification."""
        message = f"Cannot run: {html_text(exc)}"
        self.status.object = f'<span class="modax-error">{message}</span>'
        if pn.state.notifications is not None:
            pn.state.notifications.error(message, duration=10_000)

    def run(self) -> DetectionRun | None:
        """Run the chosen detector on the chosen data here, and show the result.

        Blocks until done (notebooks); the served page's button uses :meth:`run_async`.
        """
        try:
            request = self._request()
            result = detect(request, self._lake, self.data_dir, self.simulate)
        except (ValueError, TypeError) as exc:
            self._fail(exc)
            return None
        self._show_detection(result, request)
        return result

    async def run_async(self) -> DetectionRun | None:
        """:meth:`run` as a job in a child process (see :meth:`cancel`)."""
        try:
            request = self._request()
            job = self._start(
                partial(detect, progress=report),
                request,
                self._lake,
                self.data_dir,
                self.simulate,
            )
            result = await self._wait(job)
        except JobCancelledError:
            return None
        except Exception as exc:
            self._fail(_logged(exc))
            return None
        self._show_detection(result, request)
        return result

    async def register_async(self) -> str | None:
        """Register the last lake-time-range run's detector (:func:`register_detector`) as a job.

        Returns
        -------
        str or None
            The new version's label (``name vN``), or None when it could not be registered.
        """
        try:
            if self.registrable is None:
                raise ValueError("register: run a detector on a lake time range first")
            check_bounds(self.register_name)
            name = self.register_name.value.strip()
            if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", name):
                raise ValueError(f"{self.register_name.label}: letters, digits, '_', '.', '-'")
            job = self._start(register_detector, self.registrable, self._lake, name)
            label = await self._wait(job)
        except JobCancelledError:
            return None
        except Exception as exc:
            self._fail(_logged(exc))
            return None
        version = label.rsplit(" v", 1)
        self.status.object = (
            f'registered <span class="modax-registered">{html_text(label)}</span> — '
            f"<code>modax models promote {html_text(version[0])} {html_text(version[1])}</code> "
            "makes it live"
        )
        if pn.state.notifications is not None:
            pn.state.notifications.success(f"registered {html_text(label)}", duration=10_000)
        return label

    async def _register_clicked(self, _event: object) -> None:
        await self.register_async()

    @property
    def _lake(self) -> str:
        return str(self.con.lake.root)

    def _rul_inputs(self) -> tuple[str, int]:
        check_bounds(self.rul_units)
        return self.rul_model.value, int(self.rul_units.value)

    def _show_rul(self, model: str, scores: dict[str, float]) -> None:
        self.rul_metrics.value = pd.DataFrame(
            [{"metric": k, "value": round(float(v), 3)} for k, v in scores.items()]
        )
        self.status.object = (
            f'<span class="modax-rul-done">{html_text(model)}</span> '
            f"scored on C-MAPSS {_SUBSET} test units"
        )

    def run_remaining_life(self) -> dict[str, float] | None:
        """Fit and score the chosen remaining-life model on C-MAPSS FD001 here (blocking)."""
        try:
            model, units = self._rul_inputs()
            scores = run_rul(model, self.data_dir / "cmapss", _SUBSET, units)
        except (ValueError, TypeError, OSError) as exc:
            self._fail(exc)
            return None
        self._show_rul(model, scores)
        return scores

    async def run_remaining_life_async(self) -> dict[str, float] | None:
        """:meth:`run_remaining_life` as a job in a child process (see :meth:`cancel`)."""
        try:
            model, units = self._rul_inputs()
            job = self._start(
                partial(run_rul, progress=report), model, self.data_dir / "cmapss", _SUBSET, units
            )
            scores = await self._wait(job)
        except JobCancelledError:
            return None
        except Exception as exc:
            self._fail(_logged(exc))
            return None
        self._show_rul(model, scores)
        return scores

    def _start(self, work: Any, *args: Any) -> Job:
        """Start a job of this page (one at a time), with its progress bar and *Cancel* shown."""
        if self.job is not None:
            raise ValueError("a run of this page is still going on")
        self.job = start_job(work, *args)
        self.run_button.disabled = self.rul_button.disabled = self.register_button.disabled = True
        self.progress.value = 0
        self.progress.visible = self.cancel_button.visible = True
        self.status.object = "starting …"
        return self.job

    async def _wait(self, job: Job) -> Any:
        """The job's result, its progress shown meanwhile; the page is free again after."""
        try:
            return await job.wait(self._show_progress)
        finally:
            self.job = None
            self.run_button.disabled = self.rul_button.disabled = self.register_button.disabled = (
                False
            )
            self.progress.visible = self.cancel_button.visible = False

    def _show_progress(self, fraction: float, text: str) -> None:
        self.progress.value = round(100 * fraction)
        self.status.object = f'<span class="modax-lab-progress">{html_text(text)} …</span>'

    def cancel(self) -> None:
        """Stop the page's running job, if any (its process ends; nothing of it is shown)."""
        if self.job is None:
            return
        self.job.cancel()
        self.status.object = '<span class="modax-lab-cancelled">cancelled</span>'
        if pn.state.notifications is not None:
            pn.state.notifications.info("Run cancelled.", duration=5_000)

    async def _run_clicked(self, _event: object) -> None:
        await self.run_async()

    async def _rul_clicked(self, _event: object) -> None:
        await self.run_remaining_life_async()

    def __panel__(self) -> pn.viewable.Viewable:
        source = pn.Column(
            self.source,
            pn.Row(self.skab_file, visible=self.source.param.value.rx() == "SKAB file"),
            pn.Row(
                self.lake_range,
                self.lake_device,
                visible=self.source.param.value.rx() == "lake time range",
            ),
            pn.Row(
                self.scenario,
                self.sim_devices,
                self.sim_duration,
                visible=self.source.param.value.rx() == "simulator scenario",
            ),
        )
        anomaly = pn.Column(
            pn.pane.Markdown("### Anomaly detection (SKAB protocol)"),
            source,
            pn.Row(self.detector, self.train_rows),
            pn.Card(self.params, title="Detector parameters", collapsed=True),
            pn.Row(self.run_button, self.cancel_button, self.register_name, self.register_button),
            self.progress,
            self.status,
            pn.Row(self.metrics, self.plot, sizing_mode="stretch_width"),
            sizing_mode="stretch_width",
        )
        rul = pn.Column(
            pn.pane.Markdown("### Remaining life (C-MAPSS FD001)"),
            pn.Row(self.rul_model, self.rul_units, self.rul_button),
            self.rul_metrics,
        )
        return pn.Column(anomaly, rul, sizing_mode="stretch_width")


def _logged(exc: Exception) -> Exception:
    """``exc``, logged with its traceback unless it is a refused input (a served run's error
    has no caller to raise to).
    """
    if not isinstance(exc, ValueError | TypeError | JobFailedError):
        _log.error("model lab run failed", exc_info=exc)
    return exc


def _detection_plot(run: DetectionRun) -> hv.Layout:
    frame = run.frame
    times = frame["time"].to_numpy()
    truth = events(frame["truth"].to_numpy())
    spans = hv.VSpans(
        ([times[a] for a, _ in truth], [times[min(b, len(times) - 1)] for _, b in truth])
    ).opts(color="#2e7d32", alpha=0.2)
    alarms = frame[(frame["alarm"] == 1) & ~frame["train"]]
    value = (
        hv.Curve(frame, "time", ("value", run.channel), label=run.channel)
        * hv.Scatter(alarms, "time", ("value", run.channel), label="detections").opts(
            color="#c62828", size=4
        )
        * spans
    ).opts(title="Detections (red) against ground truth (green)")
    score = hv.Curve(frame, "time", ("score", "anomaly score"), label="score").opts(color="#ef6c00")
    train_end = frame.loc[~frame["train"], "time"]
    if len(train_end):
        score = score * hv.VLine(np.datetime64(train_end.iloc[0])).opts(
            color="#455a64", line_dash="dotted"
        )
    return (
        (value + score)
        .cols(1)
        .opts(
            hv.opts.Curve(responsive=True, height=230, xlabel="time"),
            hv.opts.Overlay(responsive=True, height=230, legend_position="right"),
        )
    )
