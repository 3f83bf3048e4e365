"""The NASA C-MAPSS remaining-life protocol: train, predict at each test engine's last cycle, score.

Each model is trained on ``train_FD00x.txt``, predicts the remaining life at the last cycle of every
engine in ``test_FD00x.txt`` and is scored against ``RUL_FD00x.txt``, once per seed (``modax eval
cmapss`` and ``bench/wear_cmapss.py``).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from modax.models.datasets.cmapss import INFORMATIVE_SENSORS, SETTINGS, load_cmapss
from modax.models.wear.evaluate import evaluate_rul, interval_scores, last_rows, summarise_runs
from modax.models.wear.quantile import QuantileRULRegressor
from modax.models.wear.zoo import make_model

__all__ = ["run_cmapss"]


def run_cmapss(
    directory: str | Path,
    subset: str,
    models: list[str],
    *,
    seeds: int = 5,
    cap: float = 125.0,
    on_run: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Run the benchmark and return the result object ``--format json`` prints.

    Parameters
    ----------
    directory : Path
        Folder with the NASA files (``train_FD001.txt``, ``test_FD001.txt``, ``RUL_FD001.txt``).
    subset : str
        ``FD001`` to ``FD004``.
    models : list of str
        Names from :data:`modax.models.wear.MODELS`.
    seeds : int
        Runs per model (seeds ``0 .. seeds - 1``).
    cap : float
        Remaining life is clipped at this many cycles (the usual piecewise-linear target).
    on_run : callable, optional
        Called after each run (model × seed), e.g. to advance a progress bar.

    Returns
    -------
    dict
        ``subset``, ``cap``, ``seeds``, ``n_test_units``, ``n_conditions`` (operating conditions
        found), ``models`` (name → mean ``rmse``, ``rmse_unclipped``, ``nasa_score`` over seeds,
        their ``*_std``, ``runtime_s`` per seed, and for quantile models the 80 % interval's
        ``coverage`` and mean ``width``) and ``best`` (lowest mean ``rmse``).

    Examples
    --------
    >>> report = run_cmapss("data/cmapss", "FD001", ["gbm", "mlp"], seeds=1)  # doctest: +SKIP
    >>> report["best"], round(report["models"]["gbm"]["rmse"], 1)  # doctest: +SKIP
    ('gbm', 15.9)
    """
    data = load_cmapss(directory, subset)
    last = last_rows(data.test)
    truth = np.minimum(data.rul, cap)
    results: dict[str, dict[str, float]] = {}
    n_conditions = 0
    for name in models:
        runs: list[dict[str, float]] = []
        for seed in range(seeds):
            started = time.perf_counter()
            model = make_model(
                name, INFORMATIVE_SENSORS, settings=SETTINGS, cap=cap, random_state=seed
            )
            with warnings.catch_warnings():  # the MLP's early stopping cut at max_iter is fine
                warnings.simplefilter("ignore", ConvergenceWarning)
                model.fit(data.train, data.train["rul"])
            scores = evaluate_rul(model, data.test, data.rul, cap=cap)
            n_conditions = model.normalizer_.n_conditions_
            if isinstance(model, QuantileRULRegressor):
                bounds = model.predict_quantiles(data.test)[last]
                scores.update(interval_scores(truth, bounds[:, 0], bounds[:, -1]))
            scores["runtime_s"] = time.perf_counter() - started
            runs.append(scores)
            if on_run is not None:
                on_run()
        results[name] = summarise_runs(runs)
    best = min(results, key=lambda n: results[n]["rmse"])
    return {
        "subset": data.name,
        "cap": cap,
        "seeds": seeds,
        "n_test_units": len(data.rul),
        "n_conditions": n_conditions,
        "models": results,
        "best": best,
    }
