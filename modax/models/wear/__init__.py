"""Wear and remaining-useful-life models with the scikit-learn API.

- :class:`StressWearModel` — the MODAX stress-factor wear predictor (baseline, parameters exposed).
- :class:`RULRegressor` / :class:`QuantileRULRegressor` — data-driven remaining life on windowed
  features of condition-normalised sensors, piecewise-linear target, quantile intervals.
- :class:`ConditionNormalizer`, :class:`WindowFeatures` — the building blocks.
- :class:`HealthIndex`, :class:`DegradationOnset` — a 1 → 0 health index per unit and the time
  its degradation starts.
- :func:`evaluate_rul`, :func:`make_model` — the C-MAPSS protocol and the named models.
- :func:`rul_windows` — run-to-failure training data from simulator tables;
  :func:`fit_remaining_life` — a remaining-life model (h) fitted on a lake's simulated history.
- :class:`RemainingLifeScorer` — streaming estimates with their interval for live telemetry
  (rows of the ``remaining_life_estimates`` table).
- ``modax.models.wear.live`` — the advisory ``wear`` lake table (``update_wear``, ``WearDeriver``,
  ``StressWindows``: streaming stress windows on the numba window kernel).
"""

from modax.models.wear.conditions import ConditionNormalizer
from modax.models.wear.evaluate import evaluate_rul, last_rows
from modax.models.wear.features import WindowFeatures
from modax.models.wear.health import HealthIndex
from modax.models.wear.onset import DegradationOnset
from modax.models.wear.quantile import QuantileRULRegressor
from modax.models.wear.regressor import RULRegressor, default_booster
from modax.models.wear.runs import RUL_SENSORS, rul_windows
from modax.models.wear.scorer import RemainingLifeScorer
from modax.models.wear.sim import SIM_MODELS, fit_remaining_life
from modax.models.wear.stress import STRESS_COLUMNS, StressWearModel
from modax.models.wear.target import DEFAULT_CAP, piecewise_linear_rul, run_to_failure_rul
from modax.models.wear.zoo import DEFAULT_MODELS, MODELS, make_model

__all__ = [
    "DEFAULT_CAP",
    "DEFAULT_MODELS",
    "MODELS",
    "RUL_SENSORS",
    "SIM_MODELS",
    "STRESS_COLUMNS",
    "ConditionNormalizer",
    "DegradationOnset",
    "HealthIndex",
    "QuantileRULRegressor",
    "RULRegressor",
    "RemainingLifeScorer",
    "StressWearModel",
    "WindowFeatures",
    "default_booster",
    "evaluate_rul",
    "fit_remaining_life",
    "last_rows",
    "make_model",
    "piecewise_linear_rul",
    "rul_windows",
    "run_to_failure_rul",
]
