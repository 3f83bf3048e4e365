"""The MODAX statistical anomaly detector, ported from the original AI layer as a baseline."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from modax.models.anomaly._base import Detector

__all__ = ["ModaxBaseline"]

Columns = tuple[str | int, ...]


@dataclass
class _Baseline:
    """Exponentially weighted (mean, deviation) per key, as MODAX's ``baseline_stats``."""

    stats: dict[str, tuple[float, float]] = field(default_factory=dict)

    def copy(self) -> _Baseline:
        return _Baseline(dict(self.stats))


class ModaxBaseline(Detector):
    """MODAX's z-score-against-baseline detector with its absolute thresholds (the baseline).

    Each row is one reading (for a single row its mean and maximum are the value itself). A
    row's score is the largest of MODAX's sub-scores, all in 0…1:

    - current, per motor: ``min(1, z / (2 · z_threshold))`` when ``z > z_threshold`` against
      the baseline; 0.9 when above ``current_max_a``; 0.6 when a motor differs from motor 1 by
      more than ``current_imbalance_a``;
    - vibration: 0.6 above ``vibration_moderate``, 0.9 above ``vibration_high`` (magnitude,
      m/s²); 0.5 when the largest axis exceeds ``vibration_imbalance_factor`` times the
      smallest; the z rule on the magnitude;
    - temperature, per sensor: 0.8 above ``temperature_high_c``, else 0.5 above
      ``temperature_elevated_c``; 0.7 when ``temperature_rise_c`` above its baseline mean.

    After scoring a row the baseline learns from it, as in MODAX:
    ``mean ← α·mean + (1−α)·x`` and ``dev ← α·dev + (1−α)·|x − mean|`` with
    ``α = baseline_alpha``, starting from the first value and the initial deviations.
    ``fit`` runs this over the training rows; ``score_samples`` continues from there on a
    copy, so scoring never changes the fitted model. A row alarms when its score is positive.

    Kept faithful, flaws included: the vibration levels compare the raw magnitude, and an
    accelerometer at rest already reads 1 g = 9.81 m/s², above ``vibration_moderate``, with
    the axis-imbalance rule firing on the axis gravity sits on. On gravity-including data
    (modax telemetry) raise those parameters, or see ``modax.advisory.recommend`` for levels
    computed on the dynamic part of the acceleration.

    Parameters
    ----------
    current, vibration, temperature : tuple of str or int
        Columns (names when fitted on a DataFrame, else indices) of motor currents (A),
        vibration axes (m/s²) and temperatures (°C).
    magnitude : str, int or None
        Column of the vibration magnitude (m/s²); ``None`` computes it from the axes.
    z_threshold : float
        Standard deviations (of the baseline) that count as anomalous.
    current_max_a, current_imbalance_a : float
        Absolute current limit and largest difference between motors (A).
    vibration_moderate, vibration_high, vibration_imbalance_factor : float
        Vibration magnitude levels (m/s²) and the axis-imbalance factor.
    temperature_high_c, temperature_elevated_c, temperature_rise_c : float
        Temperature levels and the rise over the baseline mean (°C).
    baseline_alpha : float
        Weight of the old baseline in each update.
    initial_std : tuple of float
        Initial deviation for current (A), vibration (m/s²) and temperature (°C).
    min_duration : int
        Rows an excursion must last before its points count as alarms.

    Examples
    --------
    >>> X = np.array([[2.0, 1.0, 1.1, 1.2, 40.0]] * 20)
    >>> det = ModaxBaseline(current=(0,), vibration=(1, 2, 3), magnitude=None, temperature=(4,))
    >>> det = det.fit(X)
    >>> det.predict([[2.0, 1.0, 1.1, 1.2, 40.0], [13.0, 1.0, 1.1, 1.2, 40.0]]).tolist()
    [0, 1]
    """

    def __init__(
        self,
        current: Columns = ("current_1", "current_2", "current_3", "current_4"),
        vibration: Columns = ("vib_x", "vib_y", "vib_z"),
        magnitude: str | int | None = "vib_mag",
        temperature: Columns = ("temp_1", "temp_2", "temp_3", "temp_4"),
        *,
        z_threshold: float = 3.0,
        current_max_a: float = 12.0,
        current_imbalance_a: float = 2.0,
        vibration_moderate: float = 5.0,
        vibration_high: float = 10.0,
        vibration_imbalance_factor: float = 2.0,
        temperature_high_c: float = 70.0,
        temperature_elevated_c: float = 60.0,
        temperature_rise_c: float = 10.0,
        baseline_alpha: float = 0.9,
        initial_std: tuple[float, float, float] = (0.5, 0.5, 2.0),
        min_duration: int = 1,
    ) -> None:
        self.current = current
        self.vibration = vibration
        self.magnitude = magnitude
        self.temperature = temperature
        self.z_threshold = z_threshold
        self.current_max_a = current_max_a
        self.current_imbalance_a = current_imbalance_a
        self.vibration_moderate = vibration_moderate
        self.vibration_high = vibration_high
        self.vibration_imbalance_factor = vibration_imbalance_factor
        self.temperature_high_c = temperature_high_c
        self.temperature_elevated_c = temperature_elevated_c
        self.temperature_rise_c = temperature_rise_c
        self.baseline_alpha = baseline_alpha
        self.initial_std = initial_std
        self.min_duration = min_duration

    def _index(self, column: str | int) -> int:
        if isinstance(column, int | np.integer):
            if not 0 <= column < self.n_features_in_:
                raise ValueError(
                    f"column index {column} is outside X's {self.n_features_in_} columns"
                )
            return int(column)
        names = list(getattr(self, "feature_names_in_", []))
        if column not in names:
            raise ValueError(f"column {column!r} is not in X (columns: {names or 'unnamed'})")
        return names.index(column)

    def _fit(self, X: np.ndarray) -> None:
        self.current_idx_ = [self._index(c) for c in self.current]
        self.vibration_idx_ = [self._index(c) for c in self.vibration]
        self.temperature_idx_ = [self._index(c) for c in self.temperature]
        self.magnitude_idx_ = None if self.magnitude is None else self._index(self.magnitude)
        self.baseline_ = _Baseline()
        for row in X:
            self._update(self.baseline_, row)

    def _magnitude(self, row: np.ndarray) -> float:
        if self.magnitude_idx_ is not None:
            return float(row[self.magnitude_idx_])
        return float(np.sqrt(np.sum(row[self.vibration_idx_] ** 2)))

    def _learn(self, baseline: _Baseline, key: str, value: float, initial_std: float) -> None:
        if key not in baseline.stats:
            baseline.stats[key] = (value, initial_std)
            return
        old_mean, old_std = baseline.stats[key]
        a = self.baseline_alpha
        mean = a * old_mean + (1 - a) * value
        baseline.stats[key] = (mean, a * old_std + (1 - a) * abs(value - mean))

    def _update(self, baseline: _Baseline, row: np.ndarray) -> None:
        current_std, vibration_std, temperature_std = self.initial_std
        for i, col in enumerate(self.current_idx_):
            self._learn(baseline, f"current_{i}", float(row[col]), current_std)
        magnitude = self._magnitude(row)
        if magnitude > 0:
            self._learn(baseline, "vibration_magnitude", magnitude, vibration_std)
        for i, col in enumerate(self.temperature_idx_):
            self._learn(baseline, f"temp_{i}", float(row[col]), temperature_std)

    def _z_score(self, baseline: _Baseline, key: str, value: float) -> float:
        if key not in baseline.stats:
            return 0.0
        mean, std = baseline.stats[key]
        if std <= 0:
            return 0.0
        z = abs((value - mean) / std)
        return min(1.0, z / (self.z_threshold * 2)) if z > self.z_threshold else 0.0

    def _current_score(self, baseline: _Baseline, row: np.ndarray) -> float:
        values = [float(row[col]) for col in self.current_idx_]
        score = 0.0
        for i, value in enumerate(values):
            score = max(score, self._z_score(baseline, f"current_{i}", value))
            if value > self.current_max_a:
                score = max(score, 0.9)
            if i > 0 and abs(value - values[0]) > self.current_imbalance_a:
                score = max(score, 0.6)
        return score

    def _vibration_score(self, baseline: _Baseline, row: np.ndarray) -> float:
        magnitude = self._magnitude(row)
        score = 0.0
        if magnitude > self.vibration_moderate:
            score = max(score, 0.6)
        if magnitude > self.vibration_high:
            score = max(score, 0.9)
        axes = np.abs(row[self.vibration_idx_])
        if axes.size and axes.max() > self.vibration_imbalance_factor * axes.min():
            score = max(score, 0.5)
        return max(score, self._z_score(baseline, "vibration_magnitude", magnitude))

    def _temperature_score(self, baseline: _Baseline, row: np.ndarray) -> float:
        score = 0.0
        for i, col in enumerate(self.temperature_idx_):
            value = float(row[col])
            if value > self.temperature_high_c:
                score = max(score, 0.8)
            elif value > self.temperature_elevated_c:
                score = max(score, 0.5)
            key = f"temp_{i}"
            if key in baseline.stats and value - baseline.stats[key][0] > self.temperature_rise_c:
                score = max(score, 0.7)
        return score

    def _score(self, X: np.ndarray) -> np.ndarray:
        baseline = self.baseline_.copy()
        scores = np.empty(X.shape[0])
        for i, row in enumerate(X):
            scores[i] = max(
                self._current_score(baseline, row),
                self._vibration_score(baseline, row),
                self._temperature_score(baseline, row),
            )
            self._update(baseline, row)
        return scores

    def _calibrate(self, train_scores: np.ndarray) -> float:
        return 0.0
