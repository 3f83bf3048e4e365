"""Remaining-life models fitted on a lake's simulated run-to-failure history.

The simulator's ``remaining_life`` table holds the true remaining life of every device; joined
with the stress windows of its ``telemetry`` (:func:`~modax.models.wear.rul_windows`), each motor
life is a unit. :func:`fit_remaining_life` fits one of :data:`SIM_MODELS` on it, in hours, ready
for :class:`~modax.models.wear.RemainingLifeScorer` and the model registry
(``modax models fit --kind remaining-life``):

- ``gbm-quantile`` (default) — calibrated 10 %/50 %/90 % quantile boosting on windowed stress
  statistics: the estimate and its 80 % interval;
- ``gbm`` — the median model alone;
- ``modax-stress`` — the MODAX stress model, its nominal life calibrated on the training lives'
  true damage (the physics baseline).

Features look back at most :data:`SIM_HISTORY` windows, so a live scorer keeps bounded state and
sees what training saw. Fitted models hold only scikit-learn, numpy and modax objects
(serializable with skops).

Examples
--------
>>> import simulator
>>> run = simulator.Fleet(n_devices=4, seed=2, scenario="run-to-failure").run(1800)
>>> frame = rul_windows(run.telemetry, run.remaining_life)
>>> model = fit_windows(frame, "gbm-quantile", random_state=0)
>>> model.predict_quantiles(frame).shape == (len(frame), 3)
True
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from modax.lake import Lake
from modax.models.wear.features import WindowFeatures
from modax.models.wear.live import TELEMETRY_COLUMNS
from modax.models.wear.quantile import QuantileRULRegressor
from modax.models.wear.regressor import RULRegressor, default_booster
from modax.models.wear.runs import RUL_SENSORS, rul_windows
from modax.models.wear.stress import STRESS_COLUMNS, StressWearModel
from modax.schema import UTC_MS

__all__ = [
    "SIM_HISTORY",
    "SIM_MODELS",
    "calibrated_stress_model",
    "fit_remaining_life",
    "fit_windows",
    "sim_features",
]

#: Windows the simulated-fleet features look back (the longest slope).
SIM_HISTORY = 30
#: Names :func:`fit_remaining_life` takes.
SIM_MODELS = ("gbm-quantile", "gbm", "modax-stress")
_TRUTH_COLUMNS = ["device_id", "ts", "damage", "failed", "rul_s", "rul_exact"]


def sim_features() -> WindowFeatures:
    """Windowed stress statistics with a bounded look-back (last value, 10- and 30-window stats).

    No expanding mean, early-life baseline or time in service: a live scorer does not know when
    a motor's life began.
    """
    return WindowFeatures(
        RUL_SENSORS,
        window=10,
        long_window=SIM_HISTORY,
        spans=(),
        baseline=None,
        expanding=False,
        include_time=False,
    )


def calibrated_stress_model(train: pd.DataFrame) -> StressWearModel:
    """The stress model with its nominal life (h) set from the training lives' true damage.

    ``train`` is :func:`rul_windows` output; the nominal life is the equivalent hours the lives
    accumulated over the damage they gained (the fleet's wear acceleration is not known to it).
    """
    stress = StressWearModel(device_col="unit").fit(train)
    damage = train.groupby("unit")["damage"]
    gain = float((damage.last() - damage.first()).sum())
    hours = pd.Series(stress.accumulated_hours(train)).groupby(train["unit"].to_numpy()).max()
    return stress.set_params(nominal_life_h=float(hours.sum()) / gain if gain > 0 else 1.0)


def fit_windows(
    frame: pd.DataFrame,
    model: str = "gbm-quantile",
    *,
    random_state: int | None = 0,
    calibration: float = 0.3,
    cap_h: float | None = None,
) -> RULRegressor | StressWearModel:
    """Fit ``model`` (one of :data:`SIM_MODELS`) on :func:`rul_windows` rows, in hours.

    Parameters
    ----------
    frame : pandas.DataFrame
        Run-to-failure windows with ``unit``, ``cycle``, the stress columns, ``damage``, ``rul_s``.
    model : str
        The model's name.
    random_state : int or None
        Seed of the boosting and of the calibration units.
    calibration : float
        Share of lives held out to calibrate the quantile model's interval.
    cap_h : float or None
        Cap of the learned models' target (h): an estimate at the cap means "at least this".
    """
    if model not in SIM_MODELS:
        raise ValueError(f"model: {model!r} is not one of {', '.join(SIM_MODELS)}")
    if frame.empty:
        raise ValueError("frame: no complete run-to-failure window to learn from")
    frame = frame.assign(**{name: frame[name].fillna(0.0) for name in STRESS_COLUMNS})
    if model == "modax-stress":
        return calibrated_stress_model(frame)
    booster = default_booster(
        random_state, max_iter=150, learning_rate=0.1, min_samples_leaf=20, max_features=1.0
    )
    hours = frame["rul_s"].to_numpy() / 3600.0
    if model == "gbm":
        return RULRegressor(sim_features(), estimator=booster, cap=cap_h).fit(frame, hours)
    quantile = QuantileRULRegressor(
        sim_features(),
        estimator=booster,
        cap=cap_h,
        random_state=random_state,
        calibration=calibration,
    )
    return quantile.fit(frame, hours)


def fit_remaining_life(
    lake: Lake,
    *,
    devices: list[str] | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    model: str = "gbm-quantile",
    window_s: float = 60.0,
    random_state: int | None = 0,
    cap_h: float | None = None,
) -> RULRegressor | StressWearModel:
    """Fit a remaining-life model (hours) on the simulated run-to-failure history in ``lake``.

    Parameters
    ----------
    lake : Lake
        Holds ``telemetry`` and the simulator's ``remaining_life`` truth.
    devices : list of str or None
        Devices to learn from (None: all).
    start, end : datetime or None
        Time range ``[start, end)`` of the history (UTC, tz-aware; None: unbounded).
    model : str
        One of :data:`SIM_MODELS`.
    window_s : float
        Stress window (s); the scorer must use the same.
    random_state : int or None
        Seed of the learned models.
    cap_h : float or None
        Cap of the learned models' target (h), as in :func:`fit_windows`.

    Returns
    -------
    RULRegressor, QuantileRULRegressor or StressWearModel
        The fitted model, for :class:`~modax.models.wear.RemainingLifeScorer`.
    """
    if model not in SIM_MODELS:
        raise ValueError(f"model: {model!r} is not one of {', '.join(SIM_MODELS)}")
    for table in ("telemetry", "remaining_life"):
        if not lake.exists(table):
            raise ValueError(
                f"lake: no {table} table to learn remaining life from — simulate a "
                "run-to-failure fleet into it (modax simulate --scenario run-to-failure)"
            )
    where = _where(devices, start, end)
    telemetry = lake.read("telemetry", columns=list(TELEMETRY_COLUMNS), filter=where)
    truth = lake.read("remaining_life", columns=_TRUTH_COLUMNS, filter=where)
    frame = rul_windows(telemetry, truth, window_s) if telemetry.num_rows else pd.DataFrame()
    if frame.empty:
        raise ValueError(
            "lake: no complete window with remaining-life truth in the chosen devices and time "
            "range — simulate longer or widen the range"
        )
    return fit_windows(frame, model, random_state=random_state, cap_h=cap_h)


def _where(
    devices: list[str] | None, start: datetime | None, end: datetime | None
) -> pc.Expression | None:
    """The lake filter for the chosen devices and time range (tz-aware bounds only)."""
    terms = []
    if devices is not None:
        terms.append(pc.field("device_id").isin(pa.array(devices, pa.string())))
    for name, bound in (("start", start), ("end", end)):
        if bound is not None and bound.tzinfo is None:
            raise ValueError(f"{name}: need a tz-aware (UTC) time, got {bound.isoformat()}")
    if start is not None:
        terms.append(pc.field("ts") >= pa.scalar(start, UTC_MS))
    if end is not None:
        terms.append(pc.field("ts") < pa.scalar(end, UTC_MS))
    if not terms:
        return None
    combined = terms[0]
    for term in terms[1:]:
        combined = combined & term
    return combined
