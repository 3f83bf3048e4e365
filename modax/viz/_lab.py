"""Model-lab runs: labelled series from a SKAB file, the lake or the simulator; a detector (or a
remaining-life model) fitted and scored with the project's protocols and metrics.

Anomaly detection follows the SKAB protocol (:func:`modax.models.anomaly._skab.run_skab`: fit on
the first rows, score the rest, point and event-level metrics); remaining life follows C-MAPSS
(:func:`modax.models.wear.evaluate_rul`: RMSE and the NASA score at each test unit's end).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd
from sklearn.base import clone

from modax.lake import LakeConnection, connect
from modax.models.anomaly import (
    DETECTORS,
    SIM_PARAMS,
    SKAB_PARAMS,
    device_series,
    make_detector,
    run_skab,
)
from modax.models.datasets.skab import read_skab
from modax.viz._jobs import Progress

__all__ = [
    "DetectionRequest",
    "DetectionRun",
    "Labelled",
    "Simulate",
    "detect",
    "detector_params",
    "lake_series",
    "register_detector",
    "run_detection",
    "run_rul",
    "skab_series",
]

#: ``simulate(scenario, devices, duration_s, seed) -> series``: the simulator source, injected by
#: the app (``modax.viz`` does not import the simulator); a module-level function, so a lab job
#: in a child process can call it.
Simulate = Callable[[str, int, float, int], list["Labelled"]]


def _quiet(_fraction: float, _text: str) -> None:
    """A :data:`Progress` that tells nobody."""


class Labelled(Protocol):
    """A labelled series: what SKAB files and simulator/lake series have in common."""

    name: str
    data: pd.DataFrame
    anomaly: np.ndarray
    changepoint: np.ndarray


@dataclass
class DetectionRun:
    """A detector's result on labelled series.

    Attributes
    ----------
    detector : str
        Registry name (``modax.models.anomaly.DETECTORS``).
    metrics : dict
        Pooled SKAB-protocol figures over every series: ``f1``, ``far``, ``mar`` (%),
        ``event_precision``, ``event_recall``, ``mean_delay_s``, ``nab``...
    frame : pandas.DataFrame
        The first series, row by row: ``time``, ``value`` (its first channel), ``score``,
        ``alarm`` and ``truth`` (0/1); ``train`` marks the rows the detector was fitted on.
    channel : str
        The channel in ``frame.value``.
    series, first_series : int, str
        How many series were scored, and the name of the one in ``frame``.
    elapsed_s : float
        Time the run took, loading included, in s.
    model : object or None
        The detector fitted on the first series' training rows (what can be registered).
    source : str
        Where the series came from (``skab`` or ``modax``: their columns differ).
    """

    detector: str
    metrics: dict[str, float]
    frame: pd.DataFrame
    channel: str
    series: int = 1
    first_series: str = ""
    elapsed_s: float = 0.0
    model: Any = None
    source: str = "modax"


@dataclass(frozen=True)
class DetectionRequest:
    """The inputs of a detector run, checked by the lab's page before anything runs.

    ``source`` is ``"SKAB file"``, ``"lake time range"`` or ``"simulator scenario"``; the fields
    of the other sources are ignored.
    """

    source: str
    skab_file: Path | None
    lake_range: tuple[datetime, datetime]
    lake_device: str | None
    scenario: str | None
    devices: int
    duration_s: float
    detector: str
    train_rows: int
    params: dict[str, Any]


def skab_series(path: str | Path) -> list[Labelled]:
    """One SKAB CSV file as a labelled series (``modax.models.datasets.skab``)."""
    return [read_skab(path)]


def lake_series(
    con: LakeConnection, device_id: str | None, start: datetime, end: datetime
) -> list[Labelled]:
    """Telemetry of the lake in ``[start, end)`` as labelled 1 s series, one per device.

    A reading is anomalous while a non-network fault of its device is active in the lake's
    ``ground_truth`` table (the simulator writes it); without that table nothing is labelled.

    Parameters
    ----------
    con : LakeConnection
        DuckDB over the lake.
    device_id : str or None
        One device, or every device.
    start, end : datetime
        Time range, timezone-aware (UTC).
    """
    if "telemetry" not in con.tables:
        raise ValueError("the lake has no telemetry table yet")
    truth = "false"
    if "ground_truth" in con.tables:
        truth = (
            "exists (select 1 from ground_truth g where g.device_id = t.device_id "
            "and g.category <> 'network' and t.ts >= g.start_ts "
            "and (g.end_ts is null or t.ts < g.end_ts))"
        )
    device = "and t.device_id = $device" if device_id else ""
    params: dict[str, Any] = {"lo": start, "hi": end} | ({"device": device_id} if device_id else {})
    table = con.execute(
        f"select t.*, {truth} as anomaly from telemetry t "
        f"where t.ts >= $lo and t.ts < $hi {device} order by t.device_id, t.ts",
        params,
    ).to_arrow_table()
    if table.num_rows == 0:
        raise ValueError(f"no telemetry between {start} and {end}")
    return device_series(table.drop_columns(["anomaly"]), table["anomaly"].to_numpy())


def detector_params(name: str, source: str) -> dict[str, Any]:
    """Parameters that map a detector onto a source's columns (``skab`` or ``modax``)."""
    table = SKAB_PARAMS if source == "skab" else SIM_PARAMS
    return dict(table.get(name, {}))


def detect(
    request: DetectionRequest,
    lake: str,
    data_dir: Path,
    simulate: Simulate | None = None,
    progress: Progress = _quiet,
) -> DetectionRun:
    """Load the requested series and run the detector on them (what a lab job does).

    Parameters
    ----------
    request : DetectionRequest
        Source, detector and parameters.
    lake : str
        Lake root (the *lake* source opens its own connection: a job runs in another process).
    data_dir : Path
        Folder with ``skab/``.
    simulate : callable, optional
        The *simulator* source.
    progress : callable
        Told how far the run is (``progress(fraction, text)``).
    """
    started = time.perf_counter()
    progress(0.05, f"loading {request.source}")
    if request.source == "SKAB file":
        if request.skab_file is None:
            raise ValueError(f"no SKAB files under {data_dir / 'skab'}")
        series = skab_series(request.skab_file)
    elif request.source == "lake time range":
        series = lake_series(connect(lake), request.lake_device, *request.lake_range)
    elif simulate is not None:
        series = simulate(request.scenario or "", request.devices, request.duration_s, 0)
    else:
        raise ValueError(f"source {request.source!r} is not offered here")
    run = run_detection(
        request.detector, series, request.train_rows, request.params, progress=progress
    )
    run.elapsed_s = time.perf_counter() - started
    run.source = "skab" if request.source == "SKAB file" else "modax"
    return run


def register_detector(request: DetectionRequest, lake: str, name: str) -> str:
    """Register the requested detector for live use, as ``modax models fit`` does; its label.

    The lab scores 1 s means of a lake time range; the advisor scores every reading. So the
    detector is fitted again by the advisor's own recipe — ``modax models fit --kind anomaly``
    on the raw readings of the same range and device, with the detector's default parameters
    and its metrics — and registered as a new version of ``name`` in the lake's registry.
    ``modax models promote NAME VERSION`` makes it live.

    Raises
    ------
    ValueError
        When the run was not on a lake time range, or ``modax models fit`` refused (its
        one-line reason).
    """
    if request.source != "lake time range":
        raise ValueError(f"register {name}: only a detector fitted on a lake time range can be")
    start, end = request.lake_range
    command = [sys.executable, "-m", "modax", "models", "fit", "--kind", "anomaly"]
    command += ["--detector", request.detector, "--name", name, "--lake", lake]
    command += ["--since", start.isoformat(), "--until", end.isoformat(), "--format", "json"]
    if request.lake_device:
        command += ["--device", request.lake_device]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]
        raise ValueError(f"register {name}: {reason}")
    [version] = json.loads(done.stdout.strip().splitlines()[-1])["versions"]
    return f"{version['name']} v{version['version']}"


def run_detection(
    name: str,
    series: list[Labelled],
    train_rows: int = 400,
    params: dict[str, Any] | None = None,
    progress: Progress = _quiet,
) -> DetectionRun:
    """Fit and score detector ``name`` on ``series`` with the SKAB protocol.

    Parameters
    ----------
    name : str
        A detector of ``modax.models.anomaly.DETECTORS``.
    series : list
        Labelled series (:func:`skab_series`, :func:`lake_series`, the simulator's).
    train_rows : int
        Rows of each series the detector is fitted on.
    params : dict, optional
        Detector parameters (``set_params``).
    progress : callable
        Told how far the run is (``progress(fraction, text)``).

    Examples
    --------
    >>> from modax.models.datasets.skab import find_skab
    >>> run = run_detection("pca-t2q", skab_series(find_skab("data/skab/valve1")[0]))
    >>> sorted(run.metrics)[:3]
    ['event_precision', 'event_recall', 'f1']
    """
    if name not in DETECTORS:
        raise ValueError(f"unknown detector {name!r}; known: {', '.join(DETECTORS)}")
    detector = make_detector(name, random_state=0, **(params or {}))
    progress(0.3, f"fitting and scoring {name} on {len(series)} series")
    metrics = run_skab(detector, series, train_rows)
    progress(0.9, "scoring the first series for the plot")
    first = series[0]
    model = clone(detector).fit(first.data.iloc[:train_rows])
    channel = str(first.data.columns[0])
    frame = pd.DataFrame(
        {
            "time": pd.to_datetime(first.data.index),
            "value": first.data[channel].to_numpy(np.float64),
            "score": model.score_samples(first.data),
            "alarm": model.predict(first.data),
            "truth": np.asarray(first.anomaly, dtype=np.int8),
            "train": np.arange(len(first.data)) < train_rows,
        }
    )
    return DetectionRun(name, metrics, frame, channel, len(series), str(first.name), model=model)


def run_rul(
    model_name: str,
    directory: str | Path,
    subset: str = "FD001",
    train_units: int | None = None,
    progress: Progress = _quiet,
) -> dict[str, float]:
    """Fit remaining-life model ``model_name`` on C-MAPSS and score it on the test units.

    ``train_units`` fits on that many training units only (a quick look; the full protocol is
    ``modax eval cmapss``); ``progress(fraction, text)`` is told how far the run is.

    Returns
    -------
    dict
        ``rmse``, ``rmse_unclipped`` and ``nasa_score`` (cycles), as ``modax eval cmapss``.
    """
    from modax.models.datasets.cmapss import INFORMATIVE_SENSORS, SETTINGS, load_cmapss
    from modax.models.wear import evaluate_rul, make_model

    progress(0.05, f"loading C-MAPSS {subset}")
    data = load_cmapss(directory, subset)
    train = data.train
    if train_units is not None:
        train = train[train["unit"].isin(sorted(train["unit"].unique())[:train_units])]
    model = make_model(model_name, INFORMATIVE_SENSORS, settings=SETTINGS, random_state=0)
    progress(0.15, f"fitting {model_name} on {train['unit'].nunique()} units")
    model.fit(train, train["rul"])
    progress(0.85, "scoring the test units")
    return evaluate_rul(model, data.test, data.rul)
