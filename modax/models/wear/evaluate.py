"""Score a fitted remaining-life model the C-MAPSS way: at the last time of each unit.

Used by ``modax eval cmapss``; :func:`evaluate_sim_rul` is ``modax eval sim --scenario
run-to-failure``.

Examples
--------
>>> scores = evaluate_rul(model, test_histories, true_rul)  # doctest: +SKIP
>>> sorted(scores)  # doctest: +SKIP
['nasa_score', 'rmse', 'rmse_unclipped']
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from modax.models.rul_metrics import rul_scores
from modax.models.wear.features import WindowFeatures
from modax.models.wear.runs import RUL_SENSORS, rul_windows
from modax.models.wear.sim import calibrated_stress_model
from modax.models.wear.target import DEFAULT_CAP
from modax.models.wear.zoo import make_model

__all__ = ["evaluate_rul", "evaluate_sim_rul", "last_rows", "summarise_runs"]


def last_rows(X: pd.DataFrame, unit_col: str = "unit", time_col: str = "cycle") -> np.ndarray:
    """Positions (iloc) of each unit's latest row, units in sorted order."""
    frame = pd.DataFrame({"u": X[unit_col].to_numpy(), "t": X[time_col].to_numpy()})
    frame["pos"] = np.arange(len(frame))
    return frame.sort_values(["u", "t"]).groupby("u", sort=True)["pos"].last().to_numpy()


def evaluate_rul(
    model: Any,
    X: pd.DataFrame,
    y: ArrayLike,
    *,
    cap: float | None = DEFAULT_CAP,
    unit_col: str = "unit",
    time_col: str = "cycle",
) -> dict[str, float]:
    """RMSE, unclipped RMSE and NASA score of ``model`` at the last row of each unit of ``X``.

    Parameters
    ----------
    model : fitted estimator
        Anything with ``predict(X)`` returning one remaining life per row of ``X``.
    X : pandas.DataFrame
        Histories of the units to score (all their rows: the features look back).
    y : array-like
        True remaining life at each unit's last row, units in sorted order (as ``RUL_FD00x``).
    cap : float or None
        Cap applied to the truth for ``rmse`` and ``nasa_score``.
    """
    last = last_rows(X, unit_col, time_col)
    truth = np.asarray(y, dtype=float).ravel()
    if len(truth) != len(last):
        raise ValueError(f"y: {len(truth)} remaining lives for {len(last)} units in X")
    predicted = np.asarray(model.predict(X), dtype=np.float64)[last]
    return rul_scores(truth, predicted, cap=cap)


def evaluate_sim_rul(
    result: Any, seeds: Iterable[int] = range(3), window_s: float = 60.0
) -> dict[str, object]:
    """Remaining-life benchmark on a simulated run-to-failure fleet (``modax eval sim``).

    Each motor life is a unit (:func:`rul_windows`); every other device (sorted by id) is held out
    for testing. Models predict the remaining life at every test window whose truth is exact, in
    minutes: ``modax-stress`` (the MODAX stress model, its nominal life calibrated on the training
    devices' true damage — the fleet's wear acceleration is not known to it), ``gbm-window`` and
    ``gbm`` (one fit per seed).

    Parameters
    ----------
    result : simulator.SimResult
        Anything with ``telemetry`` and ``remaining_life`` tables.
    seeds : iterable of int
        Training seeds of the learned models (mean ± std over them).
    window_s : float
        Stress window length (s); one window is one "cycle".

    Returns
    -------
    dict
        ``scenario``, ``unit`` (``"min"``), ``n_train_lives``, ``n_test_lives``, ``n_test_rows``,
        ``models`` (name → ``rmse``, ``rmse_unclipped``, ``nasa_score``, ``*_std``, ``runtime_s``)
        and ``best`` (lowest ``rmse``).
    """
    frame = rul_windows(result.telemetry, result.remaining_life, window_s)
    devices = sorted(frame["device_id"].unique())
    held_out = frame["device_id"].isin(devices[1::2])
    train, test = frame[~held_out], frame[held_out & frame["rul_exact"]]
    if train.empty or test.empty:
        raise ValueError(
            "result: too little run-to-failure data — simulate more devices or a longer duration"
        )
    truth = test["rul_s"].to_numpy() / 60.0
    runs: dict[str, list[dict[str, float]]] = {}

    started = time.perf_counter()
    stress = calibrated_stress_model(train)
    predicted = stress.predict(frame[held_out])[frame[held_out]["rul_exact"].to_numpy()] * 60.0
    runs["modax-stress"] = [_scores(truth, predicted, time.perf_counter() - started)]

    for name in ("gbm-window", "gbm"):
        runs[name] = []
        for seed in seeds:
            started = time.perf_counter()
            model = make_model(name, RUL_SENSORS, cap=None, random_state=seed)
            model.set_params(features=_sim_features(model.features))
            model.fit(train, train["rul_s"])
            predicted = model.predict(frame[held_out])[frame[held_out]["rul_exact"].to_numpy()]
            runs[name].append(_scores(truth, predicted / 60.0, time.perf_counter() - started))
    models = {name: summarise_runs(values) for name, values in runs.items()}
    return {
        "scenario": "run-to-failure",
        "unit": "min",
        "n_train_lives": int(train["unit"].nunique()),
        "n_test_lives": int(test["unit"].nunique()),
        "n_test_rows": len(test),
        "models": models,
        "best": min(models, key=lambda n: models[n]["rmse"]),
    }


def _sim_features(features: WindowFeatures | None) -> WindowFeatures | None:
    """Shorter windows for simulated lives (tens of windows, not hundreds of cycles)."""
    if features is None:
        return None
    if features.long_window is None:
        return features.set_params(window=10)
    return features.set_params(window=10, long_window=30, spans=(5, 20), baseline=5)


def _scores(truth: np.ndarray, predicted: np.ndarray, runtime_s: float) -> dict[str, float]:
    return {**rul_scores(truth, predicted, cap=None), "runtime_s": runtime_s}


def summarise_runs(runs: list[dict[str, float]]) -> dict[str, float]:
    """Mean of each figure over runs, and its standard deviation as ``{name}_std``."""
    summary: dict[str, float] = {}
    for key in runs[0]:
        values = np.array([run[key] for run in runs])
        summary[key] = float(values.mean())
        if key != "runtime_s":
            summary[f"{key}_std"] = float(values.std())
    return summary
