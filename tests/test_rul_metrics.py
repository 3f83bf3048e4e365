import math

import numpy as np
import pytest

from modax.models.rul_metrics import nasa_score, rmse, rul_scores


def test_rmse_is_root_mean_square_of_errors():
    assert rmse([0, 0, 0, 0], [3, -3, 3, -3]) == 3.0
    assert rmse([5, 7], [5, 7]) == 0.0


def test_nasa_score_punishes_late_more_than_early():
    early = nasa_score([50], [40])  # 10 cycles early
    late = nasa_score([50], [60])  # 10 cycles late
    assert early == pytest.approx(math.exp(10 / 13) - 1)
    assert late == pytest.approx(math.e - 1)
    assert late > early
    assert nasa_score([10, 20, 30], [10, 20, 30]) == 0.0


def test_nasa_score_is_a_sum_over_units():
    one = nasa_score([50], [60])
    assert nasa_score([50, 50, 50], [60, 60, 60]) == pytest.approx(3 * one)


def test_rul_scores_clips_truth_at_cap_except_unclipped():
    truth = np.array([200.0, 100.0])
    pred = np.array([125.0, 100.0])
    scores = rul_scores(truth, pred, cap=125)
    assert scores["rmse"] == 0.0
    assert scores["nasa_score"] == 0.0
    assert scores["rmse_unclipped"] == pytest.approx(math.sqrt(75.0**2 / 2))
    assert rul_scores(truth, pred, cap=None)["rmse"] == scores["rmse_unclipped"]


@pytest.mark.parametrize(
    ("true", "pred", "field"),
    [([1, 2], [1], "y_pred"), ([], [], "y_true"), ([1.0], [float("nan")], "finite")],
)
def test_bad_input_names_the_problem(true, pred, field):
    with pytest.raises(ValueError, match=field):
        rmse(true, pred)
