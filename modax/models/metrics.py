"""Anomaly and event metrics as the SKAB benchmark defines them, plus event-level figures.

Point-wise figures (:func:`point_metrics`) pool a confusion matrix over every scored point:

- ``f1 = TP / (TP + (FP + FN) / 2)``
- ``far`` (false alarm rate, %) ``= 100 · FP / (FP + TN)``
- ``mar`` (missed alarm rate, %) ``= 100 · FN / (FN + TP)``

Event-level figures (:func:`event_metrics`) treat each run of consecutive ones as one event:
a true event is detected when some alarm overlaps it, an alarm event is correct when it
overlaps some true event, and the detection delay is the number of samples from the start of
a true event to the first alarm inside it.

The NAB score (:func:`nab_score`) rewards early detection of changepoints: a window of
``window`` samples starts at each true changepoint; the first detection inside a window earns
``a_tp · σ(y)`` where ``y`` runs from −1 at the window start to 0 at its end and
``σ(y) = 2 / (1 + exp(5y)) − 1`` (NAB's scaled sigmoid), a window without a detection costs
``a_fn``, and every detection outside all windows costs ``|a_fp|``. The total is normalised so
that a detector that never fires scores 0 and one that fires exactly at every changepoint
scores 100.

Examples
--------
>>> import numpy as np
>>> m = point_metrics(np.array([0, 0, 1, 1]), np.array([0, 1, 1, 0]))
>>> m.f1, m.far, m.mar
(0.5, 50.0, 50.0)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "NAB_PROFILES",
    "EventMetrics",
    "PointMetrics",
    "changepoints_from_alarms",
    "event_metrics",
    "events",
    "nab_score",
    "point_metrics",
]

#: NAB application profiles as SKAB uses them: (a_tp, a_fp, a_fn).
NAB_PROFILES: dict[str, tuple[float, float, float]] = {
    "standard": (1.0, -0.11, -1.0),
    "low_fp": (1.0, -0.22, -1.0),
    "low_fn": (1.0, -0.11, -2.0),
}


def _binary(values: ArrayLike, name: str) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    if array.size and not np.isin(array, (0, 1)).all():
        bad = array[~np.isin(array, (0, 1))][0]
        raise ValueError(f"{name} must hold only 0 and 1, found {bad.item()!r}")
    return array.astype(bool)


def _pair(y_true: ArrayLike, y_pred: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    truth, pred = _binary(y_true, "y_true"), _binary(y_pred, "y_pred")
    if truth.shape != pred.shape:
        raise ValueError(f"y_true has {truth.size} points but y_pred has {pred.size}")
    return truth, pred


@dataclass(frozen=True)
class PointMetrics:
    """Pooled point-wise confusion counts and the SKAB figures derived from them.

    ``far`` and ``mar`` are in percent; a ratio with an empty denominator is ``nan``.
    """

    tp: int
    fp: int
    fn: int
    tn: int

    @property
    def precision(self) -> float:
        """TP / (TP + FP)."""
        return _ratio(self.tp, self.tp + self.fp)

    @property
    def recall(self) -> float:
        """TP / (TP + FN)."""
        return _ratio(self.tp, self.tp + self.fn)

    @property
    def f1(self) -> float:
        """TP / (TP + (FP + FN) / 2), SKAB's form of the F1 score."""
        return _ratio(self.tp, self.tp + (self.fp + self.fn) / 2)

    @property
    def far(self) -> float:
        """False alarm rate in percent: 100 · FP / (FP + TN)."""
        return 100 * _ratio(self.fp, self.fp + self.tn)

    @property
    def mar(self) -> float:
        """Missed alarm rate in percent: 100 · FN / (FN + TP)."""
        return 100 * _ratio(self.fn, self.fn + self.tp)

    def __add__(self, other: PointMetrics) -> PointMetrics:
        """Pool two confusion matrices (SKAB pools over all files before dividing)."""
        return PointMetrics(
            self.tp + other.tp, self.fp + other.fp, self.fn + other.fn, self.tn + other.tn
        )

    def as_dict(self) -> dict[str, float]:
        """Counts and figures as a plain dict (JSON-ready)."""
        return {
            **asdict(self),
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
            "far": self.far,
            "mar": self.mar,
        }


def _ratio(numerator: float, denominator: float) -> float:
    return float(numerator / denominator) if denominator else float("nan")


def point_metrics(y_true: ArrayLike, y_pred: ArrayLike) -> PointMetrics:
    """Point-wise confusion counts of 0/1 labels against 0/1 alarms.

    Raises
    ------
    ValueError
        When an input is not one-dimensional 0/1 or the lengths differ.

    Examples
    --------
    >>> point_metrics([1, 1, 0, 0, 0], [1, 0, 1, 0, 0])
    PointMetrics(tp=1, fp=1, fn=1, tn=2)
    """
    truth, pred = _pair(y_true, y_pred)
    return PointMetrics(
        tp=int((truth & pred).sum()),
        fp=int((~truth & pred).sum()),
        fn=int((truth & ~pred).sum()),
        tn=int((~truth & ~pred).sum()),
    )


def events(labels: ArrayLike) -> list[tuple[int, int]]:
    """Runs of consecutive ones as half-open ``(start, stop)`` index pairs.

    Examples
    --------
    >>> events([0, 1, 1, 0, 1])
    [(1, 3), (4, 5)]
    """
    flags = _binary(labels, "labels").astype(np.int8)
    edges = np.diff(np.concatenate(([0], flags, [0])))
    starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return [(int(a), int(b)) for a, b in zip(starts, stops, strict=True)]


@dataclass(frozen=True)
class EventMetrics:
    """Event-level detection figures; delays are in samples (seconds at 1 Hz)."""

    true_events: int
    detected_events: int
    alarm_events: int
    correct_alarm_events: int
    delays: tuple[int, ...]

    @property
    def precision(self) -> float:
        """Share of alarm events that overlap a true event."""
        return _ratio(self.correct_alarm_events, self.alarm_events)

    @property
    def recall(self) -> float:
        """Share of true events that some alarm overlaps."""
        return _ratio(self.detected_events, self.true_events)

    @property
    def mean_delay(self) -> float:
        """Mean samples from the start of a detected event to its first alarm (nan if none)."""
        return float(np.mean(self.delays)) if self.delays else float("nan")

    def as_dict(self) -> dict[str, float]:
        """Counts and figures as a plain dict (JSON-ready)."""
        return {
            "true_events": self.true_events,
            "detected_events": self.detected_events,
            "alarm_events": self.alarm_events,
            "correct_alarm_events": self.correct_alarm_events,
            "precision": self.precision,
            "recall": self.recall,
            "mean_delay": self.mean_delay,
        }


def event_metrics(y_true: ArrayLike, y_pred: ArrayLike) -> EventMetrics:
    """Event-level precision, recall and detection delay.

    Examples
    --------
    >>> m = event_metrics([0, 1, 1, 1, 0, 0, 0], [0, 0, 1, 1, 0, 1, 0])
    >>> m.recall, m.precision, m.delays
    (1.0, 0.5, (1,))
    """
    truth, pred = _pair(y_true, y_pred)
    true_events, alarm_events = events(truth), events(pred)
    delays = []
    for start, stop in true_events:
        hits = np.flatnonzero(pred[start:stop])
        if hits.size:
            delays.append(int(hits[0]))
    correct = sum(bool(truth[start:stop].any()) for start, stop in alarm_events)
    return EventMetrics(
        true_events=len(true_events),
        detected_events=len(delays),
        alarm_events=len(alarm_events),
        correct_alarm_events=correct,
        delays=tuple(delays),
    )


def changepoints_from_alarms(alarms: ArrayLike) -> np.ndarray:
    """0/1 changepoint detections at every edge of an alarm signal (its starts and ends).

    A point alarm signal turns into changepoints where it switches on and where it switches off,
    matching SKAB's ``changepoint`` labels at the start and just past the end of an anomaly.

    Examples
    --------
    >>> changepoints_from_alarms([0, 1, 1, 0, 0]).tolist()
    [0, 1, 0, 1, 0]
    """
    flags = _binary(alarms, "alarms").astype(np.int8)
    out = np.zeros(flags.size, dtype=np.int8)
    out[1:] = np.diff(flags) != 0
    if flags.size and flags[0]:
        out[0] = 1
    return out


def _sigmoid(y: float) -> float:
    return 2.0 / (1.0 + np.exp(5.0 * y)) - 1.0


def _raw_nab(
    cps: np.ndarray, detections: np.ndarray, window: int, weights: tuple[float, float, float]
) -> float:
    a_tp, a_fp, a_fn = weights
    n = detections.size
    in_window = np.zeros(n, dtype=bool)
    score = 0.0
    for cp in cps:
        stop = min(cp + window, n)
        in_window[cp:stop] = True
        hits = np.flatnonzero(detections[cp:stop])
        if hits.size:
            score += a_tp * _sigmoid(hits[0] / window - 1.0)
        else:
            score += a_fn
    score -= abs(a_fp) * float((detections & ~in_window).sum())
    return score


def nab_score(
    changepoints: ArrayLike | Sequence[ArrayLike],
    detections: ArrayLike | Sequence[ArrayLike],
    window: int = 60,
    profile: str = "standard",
) -> float:
    """Normalised NAB score (null detector 0, perfect detector 100) of changepoint detections.

    Parameters
    ----------
    changepoints : array-like of 0/1, or a list of them
        True changepoints (SKAB's ``changepoint`` column). A list holds one array per series
        (file): the raw scores are summed over the series before normalising, as SKAB pools.
    detections : array-like of 0/1, or a list of them
        Detected changepoints (e.g. :func:`changepoints_from_alarms` of a detector's alarms),
        shaped like ``changepoints``.
    window : int
        Width in samples of the window placed to the right of each changepoint (60 = 60 s at
        SKAB's 1 Hz).
    profile : str
        One of :data:`NAB_PROFILES` (``standard``, ``low_fp``, ``low_fn``).

    Returns
    -------
    float
        The score, ``nan`` when there is no true changepoint.

    Examples
    --------
    >>> nab_score([0, 1, 0, 0, 0], [0, 1, 0, 0, 0], window=2)
    100.0
    >>> nab_score([0, 1, 0, 0, 0], [0, 0, 0, 0, 0], window=2)
    0.0
    >>> nab_score([[1, 0], [0, 1]], [[1, 0], [0, 0]], window=1)
    50.0
    """
    if profile not in NAB_PROFILES:
        raise ValueError(f"profile must be one of {sorted(NAB_PROFILES)}, got {profile!r}")
    if window < 1:
        raise ValueError(f"window must be at least 1 sample, got {window}")
    nested = len(changepoints) > 0 and np.ndim(changepoints[0]) == 1  # type: ignore[arg-type,index]
    truths: list[Any] = list(changepoints) if nested else [changepoints]  # type: ignore[arg-type]
    founds: list[Any] = list(detections) if nested else [detections]  # type: ignore[arg-type]
    if len(truths) != len(founds):
        raise ValueError(f"{len(truths)} changepoint series but {len(founds)} detection series")
    weights = NAB_PROFILES[profile]
    raw = null = perfect = 0.0
    for truth_series, found_series in zip(truths, founds, strict=True):
        truth, found = _pair(truth_series, found_series)
        cps = np.flatnonzero(truth)
        raw += _raw_nab(cps, found, window, weights)
        null += weights[2] * cps.size
        perfect += _raw_nab(cps, truth, window, weights)
    if perfect == null:
        return float("nan")
    return float(100.0 * (raw - null) / (perfect - null))
