"""SKAB point metrics, event metrics and the NAB score against hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from modax.models.metrics import (
    PointMetrics,
    changepoints_from_alarms,
    event_metrics,
    events,
    nab_score,
    point_metrics,
)


def test_point_metrics_hand_case() -> None:
    # truth 1 1 1 1 0 0 0 0 0 0 ; pred 1 1 1 0 1 1 0 0 0 0 -> TP 3, FN 1, FP 2, TN 4
    m = point_metrics([1, 1, 1, 1, 0, 0, 0, 0, 0, 0], [1, 1, 1, 0, 1, 1, 0, 0, 0, 0])
    assert (m.tp, m.fp, m.fn, m.tn) == (3, 2, 1, 4)
    assert m.f1 == pytest.approx(3 / (3 + 1.5))
    assert m.far == pytest.approx(100 * 2 / 6)
    assert m.mar == pytest.approx(25.0)
    assert m.precision == pytest.approx(0.6)
    assert m.recall == pytest.approx(0.75)


def test_flagging_everything_scores_what_the_issue_says() -> None:
    # Half the points anomalous: flagging all gives F1 = 2/3, FAR 100 %, MAR 0 %.
    truth = np.r_[np.zeros(50, int), np.ones(50, int)]
    m = point_metrics(truth, np.ones(100, int))
    assert m.f1 == pytest.approx(2 / 3)
    assert (m.far, m.mar) == (100.0, 0.0)


def test_pooling_adds_confusion_matrices_before_dividing() -> None:
    a = point_metrics([1, 0], [1, 1])
    b = point_metrics([1, 1, 0, 0], [0, 0, 0, 0])
    pooled = a + b
    assert pooled == PointMetrics(tp=1, fp=1, fn=2, tn=2)
    assert pooled.f1 == pytest.approx(1 / (1 + 1.5))
    assert pooled.f1 != pytest.approx((a.f1 + b.f1) / 2)


def test_empty_denominators_are_nan_not_errors() -> None:
    m = point_metrics([0, 0], [0, 0])
    assert math.isnan(m.mar) and math.isnan(m.f1)
    assert m.far == 0.0


@pytest.mark.parametrize(
    ("truth", "pred", "message"),
    [
        ([0, 2], [0, 1], "y_true must hold only 0 and 1, found 2"),
        ([0, 1], [0, 1, 1], "y_true has 2 points but y_pred has 3"),
        ([[0, 1]], [[0, 1]], "y_true must be one-dimensional"),
    ],
)
def test_bad_labels_name_the_argument_and_reason(truth, pred, message) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        point_metrics(truth, pred)


def test_events_are_half_open_runs() -> None:
    assert events([1, 1, 0, 0, 1, 0, 1]) == [(0, 2), (4, 5), (6, 7)]
    assert events([0, 0]) == []


def test_event_metrics_hand_case() -> None:
    truth = [0, 1, 1, 1, 1, 0, 0, 0, 1, 1, 0, 0]
    pred = [1, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 1]
    m = event_metrics(truth, pred)
    # true events (1,5) and (8,10): the first is hit 2 samples late, the second is missed.
    assert (m.true_events, m.detected_events, m.delays) == (2, 1, (2,))
    # alarm events (0,1), (3,6), (11,12): only (3,6) overlaps a true event.
    assert (m.alarm_events, m.correct_alarm_events) == (3, 1)
    assert m.recall == 0.5
    assert m.precision == pytest.approx(1 / 3)
    assert m.mean_delay == 2.0


def test_changepoints_are_alarm_edges() -> None:
    assert changepoints_from_alarms([1, 1, 0, 1, 0]).tolist() == [1, 0, 1, 1, 1]


def sigma(y: float) -> float:
    return 2 / (1 + math.exp(5 * y)) - 1


def test_nab_hand_case_with_late_detection_and_false_positive() -> None:
    cps = np.zeros(20, int)
    cps[[2, 12]] = 1
    det = np.zeros(20, int)
    det[[4, 9]] = 1  # 2 samples into the first window (width 4); 9 is outside every window
    raw = sigma(2 / 4 - 1) - 0.11 - 1.0  # hit, false positive, missed second changepoint
    null, perfect = -2.0, 2 * sigma(-1.0)
    expected = 100 * (raw - null) / (perfect - null)
    assert nab_score(cps, det, window=4) == pytest.approx(expected)
    low_fp = 100 * (raw - 0.11 - null) / (perfect - null)
    assert nab_score(cps, det, window=4, profile="low_fp") == pytest.approx(low_fp)


def test_nab_null_and_perfect_detectors() -> None:
    cps = np.zeros(100, int)
    cps[[10, 60]] = 1
    assert nab_score(cps, np.zeros(100, int)) == 0.0
    assert nab_score(cps, cps) == pytest.approx(100.0)
    assert nab_score(cps, np.ones(100, int), window=5) < 0  # 90 false positives


def test_nab_pools_series_before_normalising() -> None:
    one = np.array([0, 1, 0, 0])
    none = np.array([0, 0, 0, 0])
    pooled = nab_score([one, one], [one, none], window=2)
    assert pooled == pytest.approx(50.0)


def test_nab_rejects_unknown_profile() -> None:
    with pytest.raises(ValueError, match="profile must be one of"):
        nab_score([1], [1], profile="lenient")
