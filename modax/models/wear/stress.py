"""The MODAX stress-factor wear model: a physics-flavoured baseline with its parameters exposed.

Ported from the MODAX AI layer's ``SimpleWearPredictor``. Every aggregation window gets a wear
factor, the product of stress factors (1.0 under normal conditions):

- load: ``(I_mean / 5 A) ** 1.5`` when the mean motor current is above 5 A;
- current spikes: ``1.1 + 0.05 · (I_max − 8 A)`` when the peak current is above 8 A;
- vibration: ``1 + 0.15 · (a_mean − 3 m/s²)`` when the mean vibration magnitude is above 3 m/s²;
- vibration variability: ``× 1.15`` when its standard deviation is above 1 m/s²;
- temperature: ``1 + 0.02 · (T_max − 50 °C)`` when the peak temperature is above 50 °C;
- thermal cycling: ``× 1.1`` when ``T_max − T_mean`` is above 15 °C.

Currents and temperatures are over all channels of a window: ``I_mean`` the mean of the channels'
means, ``I_max`` the largest channel peak, likewise for temperature.

Wear accumulates per device as equivalent operating hours, ``Σ window_hours · factor``; the wear
level is that over the nominal life (10,000 h), capped at 1, and the remaining hours are
``max(0, nominal − accumulated) / current factor`` — the time left if the present stress went on.
As in MODAX, the remaining hours are truncated to whole hours and the confidence is
``0.75 − 0.2 · wear level``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils import Tags
from sklearn.utils.validation import check_is_fitted

__all__ = ["PRIOR_COLUMN", "STRESS_COLUMNS", "StressWearModel"]

#: Input columns, one row per device and aggregation window (units in the names).
STRESS_COLUMNS = (
    "current_mean_a",
    "current_max_a",
    "vib_mean_ms2",
    "vib_std_ms2",
    "temp_mean_c",
    "temp_max_c",
    "window_s",
)
#: Optional input column: equivalent hours a device had accumulated before its first row in ``X``.
PRIOR_COLUMN = "prior_h"


class StressWearModel(RegressorMixin, BaseEstimator):
    """Accumulated wear and remaining hours from per-window stress (the MODAX baseline).

    Parameters
    ----------
    nominal_life_h : float
        Life (hours) under normal conditions.
    load_threshold_a, load_exponent : float
        Mean current (A) above which load stress applies, and its power-law exponent.
    spike_threshold_a, spike_base, spike_per_a : float
        Peak current (A) above which spikes count; factor ``base + per_a · excess``.
    vib_threshold_ms2, vib_per_ms2 : float
        Mean vibration magnitude (m/s²) threshold; factor ``1 + per_ms2 · excess``.
    vib_std_threshold_ms2, vib_std_factor : float
        Vibration standard deviation (m/s²) threshold and its factor.
    temp_threshold_c, temp_per_c : float
        Peak temperature (°C) threshold; factor ``1 + per_c · excess``.
    cycling_threshold_c, cycling_factor : float
        ``T_max − T_mean`` (°C) threshold and its factor.
    device_col : str
        Column naming the device; rows of each device accumulate in their order in ``X``, on top
        of the optional ``prior_h`` column (hours accumulated before, e.g. from the ``wear``
        table).
    whole_hours : bool
        Truncate the remaining hours to whole hours, as MODAX does; False keeps fractions (for
        lives of an hour or two, e.g. a simulated fleet with accelerated wear).

    Attributes
    ----------
    n_features_in_ : int
        Number of stress columns (7).

    Examples
    --------
    >>> windows = pd.DataFrame({
    ...     "device_id": ["m1", "m1"], "current_mean_a": [4.0, 10.0], "current_max_a": [6.0, 12.0],
    ...     "vib_mean_ms2": [1.0, 5.0], "vib_std_ms2": [0.1, 0.2], "temp_mean_c": [40.0, 60.0],
    ...     "temp_max_c": [45.0, 70.0], "window_s": [3600.0, 3600.0]})
    >>> model = StressWearModel().fit(windows)
    >>> model.stress_factor(windows).round(3).tolist()
    [1.0, 6.692]
    >>> model.predict(windows).tolist()  # remaining hours after each window
    [9999.0, 1493.0]
    """

    def __init__(
        self,
        *,
        nominal_life_h: float = 10_000.0,
        load_threshold_a: float = 5.0,
        load_exponent: float = 1.5,
        spike_threshold_a: float = 8.0,
        spike_base: float = 1.1,
        spike_per_a: float = 0.05,
        vib_threshold_ms2: float = 3.0,
        vib_per_ms2: float = 0.15,
        vib_std_threshold_ms2: float = 1.0,
        vib_std_factor: float = 1.15,
        temp_threshold_c: float = 50.0,
        temp_per_c: float = 0.02,
        cycling_threshold_c: float = 15.0,
        cycling_factor: float = 1.1,
        device_col: str = "device_id",
        whole_hours: bool = True,
    ) -> None:
        self.nominal_life_h = nominal_life_h
        self.load_threshold_a = load_threshold_a
        self.load_exponent = load_exponent
        self.spike_threshold_a = spike_threshold_a
        self.spike_base = spike_base
        self.spike_per_a = spike_per_a
        self.vib_threshold_ms2 = vib_threshold_ms2
        self.vib_per_ms2 = vib_per_ms2
        self.vib_std_threshold_ms2 = vib_std_threshold_ms2
        self.vib_std_factor = vib_std_factor
        self.temp_threshold_c = temp_threshold_c
        self.temp_per_c = temp_per_c
        self.cycling_threshold_c = cycling_threshold_c
        self.cycling_factor = cycling_factor
        self.device_col = device_col
        self.whole_hours = whole_hours

    def __sklearn_tags__(self) -> Tags:
        """A regressor that needs no target: its parameters are set, not learned."""
        tags = super().__sklearn_tags__()
        tags.target_tags.required = False
        return tags

    def fit(self, X: pd.DataFrame, y: object = None) -> StressWearModel:
        """Check the columns; the model's parameters are set, not learned."""
        self._values(X)
        if self.nominal_life_h <= 0:
            raise ValueError(f"nominal_life_h: must be > 0, got {self.nominal_life_h}")
        self.n_features_in_ = len(STRESS_COLUMNS)
        return self

    def stress_factor(self, X: pd.DataFrame) -> np.ndarray:
        """The wear factor of each window (product of the stress factors; 1.0 is normal)."""
        v = self._values(X)
        factor = np.ones(len(X))
        load = v["current_mean_a"] > self.load_threshold_a
        factor[load] *= (v["current_mean_a"][load] / self.load_threshold_a) ** self.load_exponent
        spike = v["current_max_a"] > self.spike_threshold_a
        excess = v["current_max_a"][spike] - self.spike_threshold_a
        factor[spike] *= self.spike_base + self.spike_per_a * excess
        vib = v["vib_mean_ms2"] > self.vib_threshold_ms2
        factor[vib] *= 1.0 + self.vib_per_ms2 * (v["vib_mean_ms2"][vib] - self.vib_threshold_ms2)
        factor[v["vib_std_ms2"] > self.vib_std_threshold_ms2] *= self.vib_std_factor
        hot = v["temp_max_c"] > self.temp_threshold_c
        factor[hot] *= 1.0 + self.temp_per_c * (v["temp_max_c"][hot] - self.temp_threshold_c)
        swing = v["temp_max_c"] - v["temp_mean_c"]
        factor[swing > self.cycling_threshold_c] *= self.cycling_factor
        return factor

    def accumulated_hours(self, X: pd.DataFrame) -> np.ndarray:
        """Equivalent operating hours accumulated by each device up to and including each row."""
        hours = self._values(X)["window_s"] / 3600.0 * self.stress_factor(X)
        if self.device_col in X.columns:
            total = pd.Series(hours).groupby(X[self.device_col].to_numpy()).cumsum().to_numpy()
        else:
            total = np.cumsum(hours)
        if PRIOR_COLUMN in X.columns:
            total = total + X[PRIOR_COLUMN].to_numpy(dtype=float)
        return total

    def wear_level(self, X: pd.DataFrame) -> np.ndarray:
        """Accumulated wear as a share of the nominal life, 0–1."""
        check_is_fitted(self, "n_features_in_")
        return np.minimum(1.0, self.accumulated_hours(X) / self.nominal_life_h)

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Remaining hours after each window if its stress went on (≥ 0; see ``whole_hours``)."""
        check_is_fitted(self, "n_features_in_")
        left = np.maximum(0.0, self.nominal_life_h - self.accumulated_hours(X))
        hours = left / self.stress_factor(X)
        return np.floor(hours) if self.whole_hours else hours

    def confidence(self, X: pd.DataFrame) -> np.ndarray:
        """MODAX's confidence: 0.75 falling by 0.2 as wear goes from 0 to 1."""
        return 0.75 - 0.2 * self.wear_level(X)

    def contributing_factors(self, X: pd.DataFrame) -> list[list[str]]:
        """Per row, the stresses that raised its wear factor (or "normal operating conditions")."""
        v = self._values(X)
        checks = (
            ("high load", v["current_mean_a"] > self.load_threshold_a),
            ("current spikes", v["current_max_a"] > self.spike_threshold_a),
            ("elevated vibration", v["vib_mean_ms2"] > self.vib_threshold_ms2),
            ("vibration variability", v["vib_std_ms2"] > self.vib_std_threshold_ms2),
            ("elevated temperature", v["temp_max_c"] > self.temp_threshold_c),
            ("temperature cycling", v["temp_max_c"] - v["temp_mean_c"] > self.cycling_threshold_c),
        )
        return [
            [name for name, mask in checks if mask[i]] or ["normal operating conditions"]
            for i in range(len(X))
        ]

    def _values(self, X: pd.DataFrame) -> dict[str, np.ndarray]:
        if not isinstance(X, pd.DataFrame):
            raise TypeError(f"X: expected a pandas DataFrame, got {type(X).__name__}")
        missing = [c for c in STRESS_COLUMNS if c not in X.columns]
        if missing:
            raise ValueError(f"X: missing column(s) {', '.join(missing)}")
        values = {c: X[c].to_numpy(dtype=float) for c in STRESS_COLUMNS}
        for name, column in values.items():
            if not np.isfinite(column).all():
                raise ValueError(f"X: column {name} has missing or non-finite values")
        if (values["window_s"] < 0).any():
            raise ValueError("X: column window_s must be ≥ 0 s")
        return values
