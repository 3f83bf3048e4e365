"""The SKAB outlier-detection protocol: per file, fit on the first rows, score the rest, pool.

The same protocol runs on any labelled series (simulator data too): anything with ``name``,
``data`` (a DataFrame in time order), ``anomaly`` and ``changepoint`` (0/1 arrays).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.base import clone

from modax.models.anomaly._base import Detector
from modax.models.anomaly._registry import DETECTORS, make_detector
from modax.models.datasets.skab import SkabFile
from modax.models.metrics import (
    PointMetrics,
    changepoints_from_alarms,
    event_metrics,
    events,
    nab_score,
    point_metrics,
)

__all__ = [
    "SKAB_PARAMS",
    "SKAB_TRAIN_ROWS",
    "DetectorResult",
    "evaluate_skab",
    "protocol_alarms",
    "run_skab",
]

#: Rows of each file a detector is fitted on (SKAB's ``train_size=400``).
SKAB_TRAIN_ROWS = 400

#: Parameters that map a detector built for modax telemetry onto SKAB's columns.
SKAB_PARAMS: dict[str, dict[str, Any]] = {
    "modax-baseline": {
        "current": ("Current",),
        "vibration": ("Accelerometer1RMS", "Accelerometer2RMS"),
        "magnitude": None,
        "temperature": ("Temperature", "Thermocouple"),
    },
}


@dataclass
class DetectorResult:
    """One detector's pooled figures for every seed, and their mean and spread.

    ``runs`` holds one dict per seed with ``f1``, ``far``, ``mar`` (%), ``nab`` (standard
    profile), ``nab_low_fp``, ``nab_low_fn``, ``event_recall``, ``event_precision`` and
    ``mean_delay_s``.

    Examples
    --------
    >>> result = DetectorResult("pca-t2", "PCA", [0, 1], [{"f1": 0.5}, {"f1": 0.7}])
    >>> round(result.mean("f1"), 3), round(result.std("f1"), 3), result.as_dict()["seeds"]
    (0.6, 0.1, [0, 1])
    """

    name: str
    description: str
    seeds: list[int | None]
    runs: list[dict[str, float]] = field(default_factory=list)

    def mean(self, key: str) -> float:
        """Mean over seeds of one figure."""
        return float(np.mean([run[key] for run in self.runs]))

    def std(self, key: str) -> float:
        """Population standard deviation over seeds of one figure (0 for a single run)."""
        return float(np.std([run[key] for run in self.runs]))

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: every figure's mean, ``<figure>_std`` and the seeds."""
        keys = list(self.runs[0])
        out: dict[str, Any] = {k: self.mean(k) for k in keys}
        out.update({f"{k}_std": self.std(k) for k in keys})
        out["seeds"] = self.seeds
        out["description"] = self.description
        return out


def protocol_alarms(
    detector: Detector, series: SkabFile, train_rows: int = SKAB_TRAIN_ROWS
) -> np.ndarray | None:
    """One series under the SKAB protocol: the 0/1 alarms on its rows after ``train_rows``.

    A fresh clone of ``detector`` is fitted on the normal rows among the first ``train_rows``
    and predicts the whole series (windows look back into the training rows).

    Returns
    -------
    numpy.ndarray or None
        Alarms for ``series.anomaly[train_rows:]``; ``None`` when fewer than half of the
        training rows are normal (the protocol skips such a series).

    Raises
    ------
    ValueError
        When the series has no labels or no more rows than ``train_rows``.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from modax.models.anomaly import LabelledSeries, make_detector
    >>> x = np.random.default_rng(0).normal(size=(300, 2))
    >>> x[250:] += 6.0
    >>> labels = (np.arange(300) >= 250).astype(np.int8)
    >>> series = LabelledSeries("demo", pd.DataFrame(x), labels, np.diff(labels, prepend=0))
    >>> alarms = protocol_alarms(make_detector("pca-t2"), series, train_rows=100)
    >>> alarms.shape, int(alarms[150:].min())
    ((200,), 1)
    """
    if series.anomaly is None:
        raise ValueError(f"{series.name}: no anomaly labels to evaluate against")
    if len(series.data) <= train_rows:
        raise ValueError(f"{series.name}: {len(series.data)} rows, need more than {train_rows}")
    normal = series.anomaly[:train_rows] == 0
    if normal.sum() < train_rows // 2:
        return None
    model = clone(detector).fit(series.data.iloc[:train_rows][normal])
    return np.asarray(model.predict(series.data)[train_rows:])


def run_skab(
    detector: Detector, files: Sequence[SkabFile], train_rows: int = SKAB_TRAIN_ROWS
) -> dict[str, float]:
    """Pooled figures of one detector configuration over ``files`` under the SKAB protocol.

    For each file a fresh clone of ``detector`` is fitted on the first ``train_rows`` rows
    (those labelled normal: in SKAB all of them are; a series with fewer than half normal is
    skipped and counted) and predicts the whole file (windows look back into the training
    rows); only the remaining rows are scored. Confusion matrices, NAB scores and events are
    pooled over files.

    Parameters
    ----------
    detector : Detector
        An unfitted detector configuration (cloned for every file).
    files : sequence of SkabFile or LabelledSeries
        Series with ``data``, point labels ``anomaly`` and ``changepoint`` (unlabelled ones
        are ignored).
    train_rows : int
        Rows of each file to fit on.

    Returns
    -------
    dict of str to float
        ``f1``, ``far``, ``mar`` (%), ``nab``, ``nab_low_fp``, ``nab_low_fn``,
        ``event_recall``, ``event_precision``, ``mean_delay_s``, ``series`` evaluated,
        ``series_skipped`` and ``recall_<kind>`` for series that name their faults.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from modax.models.anomaly import LabelledSeries, make_detector
    >>> x = np.random.default_rng(0).normal(size=(300, 2))
    >>> x[250:] += 6.0
    >>> labels = (np.arange(300) >= 250).astype(np.int8)
    >>> series = LabelledSeries("demo", pd.DataFrame(x), labels, np.diff(labels, prepend=0))
    >>> figures = run_skab(make_detector("pca-t2"), [series], train_rows=100)
    >>> figures["mar"], figures["event_recall"], figures["series"]
    (0.0, 1.0, 1)
    """
    pooled = PointMetrics(0, 0, 0, 0)
    truths, alarms_all, cps, found = [], [], [], []
    by_kind: dict[str, list[int]] = {}
    skipped = 0
    for f in files:
        if f.anomaly is None or f.changepoint is None:
            continue
        alarms = protocol_alarms(detector, f, train_rows)
        if alarms is None:
            skipped += 1
            continue
        truth = f.anomaly[train_rows:]
        pooled = pooled + point_metrics(truth, alarms)
        truths.append(truth)
        alarms_all.append(alarms)
        cps.append(f.changepoint[train_rows:])
        found.append(changepoints_from_alarms(alarms))
        kinds = getattr(f, "kinds", None)
        if kinds is not None:
            for start, stop in events(truth):
                tally = by_kind.setdefault(str(kinds[train_rows + start]), [0, 0])
                tally[0] += int(alarms[start:stop].any())
                tally[1] += 1
    if not truths:
        raise ValueError("no labelled series with enough normal training rows to evaluate on")
    event_figures = event_metrics(np.concatenate(truths), np.concatenate(alarms_all))
    return {
        "f1": pooled.f1,
        "far": pooled.far,
        "mar": pooled.mar,
        "nab": nab_score(cps, found),
        "nab_low_fp": nab_score(cps, found, profile="low_fp"),
        "nab_low_fn": nab_score(cps, found, profile="low_fn"),
        "event_recall": event_figures.recall,
        "event_precision": event_figures.precision,
        "mean_delay_s": event_figures.mean_delay,
        "series": len(truths),
        "series_skipped": skipped,
        **{f"recall_{kind}": hit / total for kind, (hit, total) in sorted(by_kind.items())},
    }


def evaluate_skab(
    files: Sequence[SkabFile],
    detectors: Sequence[str] | None = None,
    seeds: Sequence[int] = (0, 1, 2, 3, 4),
    train_rows: int = SKAB_TRAIN_ROWS,
    progress: Callable[[str], None] | None = None,
    params: dict[str, dict[str, Any]] | None = None,
) -> dict[str, DetectorResult]:
    """Run the SKAB protocol for registered detectors; every seed for stochastic ones.

    Deterministic detectors run once (their spread is 0). Results are never the best seed:
    each figure is reported as its mean and standard deviation over ``seeds``.

    Parameters
    ----------
    files : sequence of SkabFile
        Labelled SKAB files (see :func:`modax.models.datasets.skab.load_skab`).
    detectors : sequence of str, optional
        Names from :data:`DETECTORS` (all by default).
    seeds : sequence of int
        Seeds for stochastic detectors.
    train_rows : int
        Rows of each file to fit on.
    progress : callable, optional
        Called with the detector name after each run (for progress bars).
    params : dict, optional
        Parameter overrides per detector name (default: :data:`SKAB_PARAMS`).

    Returns
    -------
    dict of str to DetectorResult
        One per detector, in the order of ``detectors``.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from modax.models.anomaly import LabelledSeries
    >>> x = np.random.default_rng(0).normal(size=(300, 2))
    >>> x[250:] += 6.0
    >>> labels = (np.arange(300) >= 250).astype(np.int8)
    >>> series = LabelledSeries("demo", pd.DataFrame(x), labels, np.diff(labels, prepend=0))
    >>> result = evaluate_skab([series], ["pca-t2"], train_rows=100)["pca-t2"]
    >>> result.seeds, result.mean("mar"), result.std("mar")
    ([None], 0.0, 0.0)
    """
    names = list(detectors or DETECTORS)
    for name in names:
        if name not in DETECTORS:
            raise ValueError(f"unknown detector {name!r}; known: {', '.join(DETECTORS)}")
    results = {}
    for name in names:
        spec = DETECTORS[name]
        run_seeds: list[int | None] = list(seeds) if spec.stochastic else [None]
        result = DetectorResult(name, spec.description, run_seeds)
        for seed in run_seeds:
            overrides = (SKAB_PARAMS if params is None else params).get(name, {})
            detector = make_detector(name, seed, **overrides)
            result.runs.append(run_skab(detector, files, train_rows))
            if progress is not None:
                progress(name)
        results[name] = result
    return results
