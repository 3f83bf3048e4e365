"""The model lab: pick data, a detector and its parameters, run, see detections and metrics."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
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
from modax.viz._backend import use_bokeh
from modax.viz._cells import html_text
from modax.viz._lab import (
    DetectionRun,
    Labelled,
    detector_params,
    lake_series,
    run_detection,
    run_rul,
    skab_series,
)

__all__ = ["ModelLab", "metrics_frame"]

#: ``simulate(scenario, devices, duration_s, seed) -> series``: the simulator source, injected by
#: the app (``modax.viz`` does not import the simulator).
Simulate = Callable[[str, int, float, int], list[Labelled]]
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
_SIMPLE = (bool, int, float, str)


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
    if isinstance(value, bool):
        return pn.widgets.Checkbox(label=name, value=value)
    if isinstance(value, int):
        return pn.widgets.IntInput(label=name, value=value)
    if isinstance(value, float):
        return pn.widgets.FloatInput(label=name, value=value)
    if isinstance(value, str):
        return pn.widgets.TextInput(label=name, value=value)
    return None


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
        labelled series; without it that source is not offered.
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
        self.lake_device = pn.widgets.TextInput(label="Device (empty: all)", value="")
        self.scenario = pn.widgets.Select(label="Scenario", options=list(scenarios))
        self.sim_devices = pn.widgets.IntInput(label="Devices", value=4, start=1, end=50)
        self.sim_duration = pn.widgets.IntInput(label="Simulated s", value=1800, start=600)
        self.detector = pn.widgets.Select(
            label="Detector", options=list(DETECTORS), value="level-shift"
        )
        self.train_rows = pn.widgets.IntInput(label="Training rows", value=400, start=10)
        self.params = pn.Column()
        self.run_button = pn.widgets.Button(label="Run detector", color="primary")
        self.status = pn.pane.HTML("")
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
        self.run_button.on_click(lambda _e: self.run())
        self.rul_button.on_click(lambda _e: self.run_remaining_life())
        self._show_params()

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

    def series(self) -> list[Labelled]:
        """Load the chosen data source."""
        if self.source.value == "SKAB file":
            if self.skab_file.value is None:
                raise ValueError(f"no SKAB files under {self.data_dir / 'skab'}")
            return skab_series(self.skab_file.value)
        if self.source.value == "lake time range":
            self.con.refresh()
            start, end = (t.replace(tzinfo=UTC) for t in self.lake_range.value)
            return lake_series(self.con, self.lake_device.value or None, start, end)
        seed = 0
        return self.simulate(
            self.scenario.value, self.sim_devices.value, float(self.sim_duration.value), seed
        )

    def run(self) -> DetectionRun | None:
        """Run the chosen detector on the chosen data and show the result."""
        self.status.object = "running …"
        started = time.perf_counter()
        try:
            series = self.series()
            result = run_detection(
                self.detector.value, series, self.train_rows.value, self._param_values()
            )
        except (ValueError, TypeError) as exc:
            self.status.object = f'<span class="modax-error">Cannot run: {html_text(exc)}</span>'
            return None
        elapsed = time.perf_counter() - started
        self.metrics.value = metrics_frame(result.metrics)
        self.plot.object = _detection_plot(result)
        self.status.object = (
            f'<span class="modax-lab-done">{html_text(result.detector)}</span> '
            f"on {len(series)} series "
            f"in {elapsed:.1f} s — plot shows {html_text(series[0].name)}"
        )
        return result

    def run_remaining_life(self) -> dict[str, float]:
        """Fit and score the chosen remaining-life model on C-MAPSS FD001."""
        self.status.object = "fitting the remaining-life model …"
        scores = run_rul(
            self.rul_model.value, self.data_dir / "cmapss", train_units=self.rul_units.value
        )
        self.rul_metrics.value = pd.DataFrame(
            [{"metric": k, "value": round(float(v), 3)} for k, v in scores.items()]
        )
        self.status.object = f"{html_text(self.rul_model.value)} scored on C-MAPSS FD001 test units"
        return scores

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
            self.run_button,
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
