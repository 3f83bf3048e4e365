"""Named remaining-life models, built for a given set of sensor and setting columns.

``modax eval cmapss --model NAME`` and ``modax eval sim`` pick models from :data:`MODELS`:

- ``gbm-window`` — the floor: gradient boosting on last value, mean and slope of a 30-row window.
- ``gbm`` — gradient boosting on the richer history features (long slope, smoothed levels, drift
  from the unit's own baseline, time in service).
- ``gbm-quantile`` — ``gbm`` features with 10 %/50 %/90 % quantile models (median as forecast).

Examples
--------
>>> model = make_model("gbm", sensors=["s2", "s3"], settings=["setting_1"], random_state=0)
>>> type(model).__name__
'RULRegressor'
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from modax.models.wear.features import WindowFeatures
from modax.models.wear.quantile import QuantileRULRegressor
from modax.models.wear.regressor import RULRegressor
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


#: name → (feature builder, model class)
MODELS: dict[str, tuple[Callable[..., WindowFeatures], type[RULRegressor]]] = {
    "gbm-window": (_window, RULRegressor),
    "gbm": (_rich, RULRegressor),
    "gbm-quantile": (_rich, QuantileRULRegressor),
}
DEFAULT_MODELS = ("gbm-window", "gbm", "gbm-quantile")


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
    build_features, cls = MODELS[name]
    features = build_features(sensors, unit_col, time_col)
    return cls(features=features, settings=tuple(settings), cap=cap, random_state=random_state)
