"""Rule-based recommendations after MODAX's optimizer, each with the evidence behind it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from modax.schema import Recommendation

__all__ = ["STANDARD_GRAVITY_MS2", "RecommendationRules", "recommend"]

#: 1 g in m/s²: what an accelerometer's magnitude reads at rest.
STANDARD_GRAVITY_MS2 = 9.80665


@dataclass(frozen=True)
class RecommendationRules:
    """Thresholds of the rules, with MODAX's defaults (A, m/s², °C, 0–1 wear).

    Vibration levels apply to the dynamic part of the acceleration (gravity removed, see
    :func:`recommend`); ``vibration_axis_min`` is the smallest dominant-axis vibration (m/s²,
    standard deviation) for which an axis imbalance is worth reporting.
    """

    current_high_a: float = 6.0
    current_imbalance_a: float = 1.5
    current_spike_ratio: float = 1.5
    vibration_high: float = 5.0
    vibration_elevated: float = 3.0
    vibration_axis_factor: float = 2.0
    vibration_axis_min: float = 1.0
    temperature_high_c: float = 60.0
    temperature_elevated_c: float = 50.0
    temperature_cycling_c: float = 15.0
    wear_urgent: float = 0.8
    wear_moderate: float = 0.6


def _finite(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    return values[np.isfinite(values)]


def recommend(
    readings: dict[str, np.ndarray],
    anomaly_ratio: float | None = None,
    wear_level: float | None = None,
    rules: RecommendationRules | None = None,
) -> list[Recommendation]:
    """Recommendations for one device from a window of its readings.

    Parameters
    ----------
    readings : dict of str to ndarray
        Telemetry columns of the window (``current_1..4`` in A, ``vib_x/y/z/mag`` in m/s²,
        ``temp_1..4`` in °C); missing or NaN channels are ignored. An accelerometer at rest
        reads 1 g, so vibration is judged on its dynamic part: the RMS of the acceleration
        vector about its mean (each axis's standard deviation, combined), or without axes the
        RMS of the magnitude's departure from :data:`STANDARD_GRAVITY_MS2`. (MODAX compared the
        raw magnitude with 5 m/s², which 1 g alone exceeds.)
    anomaly_ratio : float, optional
        The detector's score divided by its threshold (> 1 means the detector alarms).
    wear_level : float, optional
        Wear from 0 (new) to 1 (worn out), when a wear model provides it.
    rules : RecommendationRules, optional
        Thresholds (MODAX's defaults when omitted).

    Returns
    -------
    list of modax.schema.Recommendation
        Most urgent first; empty when nothing calls for action.

    Examples
    --------
    >>> r = recommend({"current_1": np.array([7.0, 7.2]), "vib_mag": np.array([9.8, 9.9])})
    >>> [x.code for x in r], r[0].evidence["mean_current_a"]
    (['reduce_load'], 7.1)
    """
    rules = rules or RecommendationRules()
    out: list[Recommendation] = []
    currents = [_finite(readings[c]) for c in sorted(readings) if c.startswith("current_")]
    currents = [c for c in currents if c.size]
    if currents:
        means = np.array([c.mean() for c in currents])
        peak = float(max(c.max() for c in currents))
        average = float(means.mean())
        if average > rules.current_high_a:
            out.append(
                Recommendation(
                    "reduce_load",
                    "Consider reducing load or operating speed to decrease current draw",
                    "warning",
                    {"mean_current_a": round(average, 3), "limit_a": rules.current_high_a},
                )
            )
        spread = float(means.max() - means.min())
        if len(currents) > 1 and spread > rules.current_imbalance_a:
            out.append(
                Recommendation(
                    "check_motor_binding",
                    "Current imbalance between motors: check for mechanical binding",
                    "warning",
                    {"imbalance_a": round(spread, 3), "limit_a": rules.current_imbalance_a},
                )
            )
        if average > 0 and peak > average * rules.current_spike_ratio:
            out.append(
                Recommendation(
                    "smooth_acceleration",
                    "Current spikes: consider smoother acceleration profiles",
                    "info",
                    {
                        "peak_current_a": round(peak, 3),
                        "mean_current_a": round(average, 3),
                        "ratio_limit": rules.current_spike_ratio,
                    },
                )
            )
    magnitude = _finite(readings.get("vib_mag", np.array([])))
    axes = {a: _finite(readings.get(f"vib_{a}", np.array([]))) for a in "xyz"}
    has_axes = all(v.size > 1 for v in axes.values())
    level = None
    if has_axes:
        level = float(np.sqrt(sum(v.var() for v in axes.values())))
    elif magnitude.size:
        level = float(np.sqrt(np.mean((magnitude - STANDARD_GRAVITY_MS2) ** 2)))
    if level is not None:
        if level > rules.vibration_high:
            out.append(
                Recommendation(
                    "schedule_maintenance",
                    "High vibration: schedule a maintenance check of bearings and alignment",
                    "urgent",
                    {"vibration_rms_ms2": round(level, 3), "limit_ms2": rules.vibration_high},
                )
            )
        elif level > rules.vibration_elevated:
            out.append(
                Recommendation(
                    "rebalance",
                    "Elevated vibration: consider re-balancing rotating components",
                    "warning",
                    {"vibration_rms_ms2": round(level, 3), "limit_ms2": rules.vibration_elevated},
                )
            )
    if has_axes:
        levels = {a: float(v.std()) for a, v in axes.items()}
        dominant = max(levels, key=levels.__getitem__)
        if levels[dominant] > max(
            rules.vibration_axis_factor * min(levels.values()), rules.vibration_axis_min
        ):
            out.append(
                Recommendation(
                    "check_alignment",
                    f"Dominant {dominant.upper()}-axis vibration suggests misalignment",
                    "info",
                    {f"std_{a}_ms2": round(v, 3) for a, v in levels.items()}
                    | {"axis_factor": rules.vibration_axis_factor},
                )
            )
    temps = [_finite(readings[c]) for c in sorted(readings) if c.startswith("temp_")]
    temps = [t for t in temps if t.size]
    if temps:
        hottest = float(max(t.max() for t in temps))
        average = float(np.mean([t.mean() for t in temps]))
        if hottest > rules.temperature_high_c:
            out.append(
                Recommendation(
                    "improve_cooling",
                    "High temperature: improve cooling or reduce the duty cycle",
                    "urgent",
                    {"max_temperature_c": round(hottest, 2), "limit_c": rules.temperature_high_c},
                )
            )
        elif hottest > rules.temperature_elevated_c:
            out.append(
                Recommendation(
                    "monitor_temperature",
                    "Elevated temperature: watch the trend and check ventilation",
                    "info",
                    {
                        "max_temperature_c": round(hottest, 2),
                        "limit_c": rules.temperature_elevated_c,
                    },
                )
            )
        if hottest - average > rules.temperature_cycling_c:
            out.append(
                Recommendation(
                    "thermal_management",
                    "Large temperature swings: consider thermal management",
                    "info",
                    {
                        "max_minus_mean_c": round(hottest - average, 2),
                        "limit_c": rules.temperature_cycling_c,
                    },
                )
            )
    if wear_level is not None:
        if wear_level > rules.wear_urgent:
            out.append(
                Recommendation(
                    "maintain_now",
                    "High wear: schedule preventive maintenance now",
                    "urgent",
                    {"wear_level": round(wear_level, 3), "limit": rules.wear_urgent},
                )
            )
        elif wear_level > rules.wear_moderate:
            out.append(
                Recommendation(
                    "plan_maintenance",
                    "Moderate wear: plan maintenance within the next service window",
                    "warning",
                    {"wear_level": round(wear_level, 3), "limit": rules.wear_moderate},
                )
            )
    if anomaly_ratio is not None and anomaly_ratio > 1.0:
        out.append(
            Recommendation(
                "investigate_anomaly",
                "Anomaly detected: investigate the machine's condition promptly",
                "warning",
                {"score_over_threshold": round(float(anomaly_ratio), 3), "limit": 1.0},
            )
        )
    order = {"urgent": 0, "warning": 1, "info": 2}
    return sorted(out, key=lambda r: order[r.severity])
