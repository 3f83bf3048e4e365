"""Named remaining-life models, built for a given set of sensor and setting columns.

``modax eval cmapss --model NAME`` and ``modax eval sim`` pick models from :data:`MODELS`:

- ``gbm-window`` — the floor: gradient boosting on last value, mean and slope of a 30-row window.
- ``gbm`` — gradient boosting on the richer history features (long slope, smoothed levels, drift
  from the unit's own baseline, time in service).
- ``gbm-quantile`` — ``gbm`` features with 10 %/50 %/90 % quantile models (median as forecast).
- ``mlp`` — a small multi-layer perceptron (64-32 ReLU, early stopping) on the ``gbm`` features.
- ``ensemble`` — the mean of ``gbm`` and ``mlp``.

Examples
--------
>>> model = make_model("gbm", sensors=["s2", "s3"], settings=["setting_1"], random_state=0)
>>> type(model).__name__
'RULRegressor'
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sklearn.base import BaseEstimator
from sklearn.ensemble import VotingRegressor
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from modax.models.wear.features import WindowFeatures
from modax.models.wear.quantile import QuantileRULRegressor
from modax.models.wear.regressor import RULRegressor, default_booster
from modax.models.wear.target import DEFAULT_CAP

__all__ = ["DEFAULT_MODELS", "MODELS", "make_model"]


def _window(sensors: Sequence[str], unit_col: str, time_col: str) -> WindowFeatures:
    return WindowFeatures(
        tuple(sensors),
        unit_col=unit_col,
        time_col=time_col,
        window=30,
        long_window=None,
        spans=(),
        baseline=None,
        expanding=False,
        include_time=False,
    )


def _rich(sensors: Sequence[str], unit_col: str, time_col: str) -> WindowFeatures:
    return WindowFeatures(tuple(sensors), unit_col=unit_col, time_col=time_col)


def _mlp() -> BaseEstimator:
    network = MLPRegressor(
        hidden_layer_sizes=(64, 32),
        alpha=1e-3,
        max_iter=60,
        early_stopping=True,
    )
    return make_pipeline(StandardScaler(), network)


def _ensemble() -> BaseEstimator:
    return VotingRegressor([("gbm", default_booster()), ("mlp", _mlp())])


#: name → (feature builder, model class, estimator builder or None for the default booster)
MODELS: dict[str, tuple[Callable[..., WindowFeatures], type[RULRegressor], Callable | None]] = {
    "gbm-window": (_window, RULRegressor, None),
    "gbm": (_rich, RULRegressor, None),
    "gbm-quantile": (_rich, QuantileRULRegressor, None),
    "mlp": (_rich, RULRegressor, _mlp),
    "ensemble": (_rich, RULRegressor, _ensemble),
}
DEFAULT_MODELS = ("gbm-window", "gbm", "gbm-quantile", "mlp", "ensemble")


def make_model(
    name: str,
    sensors: Sequence[str],
    *,
    settings: Sequence[str] = (),
    unit_col: str = "unit",
    time_col: str = "cycle",
    cap: float | None = DEFAULT_CAP,
    random_state: int | None = None,
) -> RULRegressor:
    """A fresh, unfitted model called ``name`` (one of :data:`MODELS`)."""
    if name not in MODELS:
        raise ValueError(f"model: {name!r} is not one of {', '.join(MODELS)}")
    build_features, cls, build_estimator = MODELS[name]
    return cls(
        build_features(sensors, unit_col, time_col),
        settings=tuple(settings),
        estimator=None if build_estimator is None else build_estimator(),
        cap=cap,
        random_state=random_state,
    )
