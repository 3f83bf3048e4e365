"""Rule-based recommendations after MODAX's optimizer, each with the evidence behind it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from modax.schema import Recommendation

__all__ = [
    "STANDARD_GRAVITY_MS2",
    "RecommendationRules",
    "anomaly_advice",
    "current_advice",
    "recommend",
    "temperature_advice",
    "vibration_advice",
    "wear_advice",
]

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


#: Every piece of advice by code: its severity and its text (``{axis}`` names an axis).
_ADVICE: dict[str, tuple[str, str]] = {
    "reduce_load": (
        "warning",
        "Consider reducing load or operating speed to decrease current draw",
    ),
    "check_motor_binding": (
        "warning",
        "Current imbalance between motors: check for mechanical binding",
    ),
    "smooth_acceleration": ("info", "Current spikes: consider smoother acceleration profiles"),
    "schedule_maintenance": (
        "urgent",
        "High vibration: schedule a maintenance check of bearings and alignment",
    ),
    "rebalance": ("warning", "Elevated vibration: consider re-balancing rotating components"),
    "check_alignment": ("info", "Dominant {axis}-axis vibration suggests misalignment"),
    "improve_cooling": ("urgent", "High temperature: improve cooling or reduce the duty cycle"),
    "monitor_temperature": (
        "info",
        "Elevated temperature: watch the trend and check ventilation",
    ),
    "thermal_management": ("info", "Large temperature swings: consider thermal management"),
    "maintain_now": ("urgent", "High wear: schedule preventive maintenance now"),
    "plan_maintenance": (
        "warning",
        "Moderate wear: plan maintenance within the next service window",
    ),
    "investigate_anomaly": (
        "warning",
        "Anomaly detected: investigate the machine's condition promptly",
    ),
}


def _advice(code: str, evidence: Mapping[str, float | str], **fields: str) -> Recommendation:
    """The advice ``code`` (see :data:`_ADVICE`) with its evidence; ``fields`` fill its text."""
    severity, message = _ADVICE[code]
    return Recommendation(code, message.format(**fields), severity, dict(evidence))


def _over(
    code: str, value: float, limit: float, name: str, limit_name: str, digits: int = 3
) -> list[Recommendation]:
    """``[advice]`` when ``value > limit``, with both as evidence (``value`` rounded), else ``[]``.

    An empty list is falsy, so ``_over(urgent...) or _over(milder...)`` gives the first tier
    crossed.
    """
    if value > limit:
        return [_advice(code, {name: round(value, digits), limit_name: limit})]
    return []


def _channels(readings: dict[str, np.ndarray], prefix: str) -> list[np.ndarray]:
    """The finite values of every non-empty channel named ``prefix…``, in name order."""
    channels = [_finite(readings[c]) for c in sorted(readings) if c.startswith(prefix)]
    return [c for c in channels if c.size]


def current_advice(
    readings: dict[str, np.ndarray], rules: RecommendationRules
) -> list[Recommendation]:
    """Advice from the motor currents ``current_1..4`` (A).

    ``reduce_load`` when the motors' mean current is high, ``check_motor_binding`` when two
    motors' means differ by more than ``rules.current_imbalance_a``, ``smooth_acceleration``
    when the peak exceeds the mean by ``rules.current_spike_ratio``.
    """
    currents = _channels(readings, "current_")
    if not currents:
        return []
    means = np.array([c.mean() for c in currents])
    peak = float(max(c.max() for c in currents))
    average = float(means.mean())
    out = _over("reduce_load", average, rules.current_high_a, "mean_current_a", "limit_a")
    if len(currents) > 1:
        spread = float(means.max() - means.min())
        out += _over(
            "check_motor_binding", spread, rules.current_imbalance_a, "imbalance_a", "limit_a"
        )
    if average > 0 and peak > average * rules.current_spike_ratio:
        evidence = {
            "peak_current_a": round(peak, 3),
            "mean_current_a": round(average, 3),
            "ratio_limit": rules.current_spike_ratio,
        }
        out.append(_advice("smooth_acceleration", evidence))
    return out


def vibration_advice(
    readings: dict[str, np.ndarray], rules: RecommendationRules
) -> list[Recommendation]:
    """Advice from the vibration ``vib_x/y/z`` and ``vib_mag`` (m/s²), gravity removed.

    The level is the RMS of the acceleration about its mean (each axis's standard deviation,
    combined), or without axes the RMS of the magnitude's departure from
    :data:`STANDARD_GRAVITY_MS2`: ``schedule_maintenance`` above ``rules.vibration_high``,
    else ``rebalance`` above ``rules.vibration_elevated``. ``check_alignment`` when one axis
    dominates (``rules.vibration_axis_factor`` × the quietest, at least
    ``rules.vibration_axis_min``).
    """
    magnitude = _finite(readings.get("vib_mag", np.array([])))
    axes = {a: _finite(readings.get(f"vib_{a}", np.array([]))) for a in "xyz"}
    has_axes = all(v.size > 1 for v in axes.values())
    out: list[Recommendation] = []
    level = None
    if has_axes:
        level = float(np.sqrt(sum(v.var() for v in axes.values())))
    elif magnitude.size:
        level = float(np.sqrt(np.mean((magnitude - STANDARD_GRAVITY_MS2) ** 2)))
    if level is not None:
        out += _over(
            "schedule_maintenance", level, rules.vibration_high, "vibration_rms_ms2", "limit_ms2"
        ) or _over("rebalance", level, rules.vibration_elevated, "vibration_rms_ms2", "limit_ms2")
    if has_axes:
        levels = {a: float(v.std()) for a, v in axes.items()}
        dominant = max(levels, key=levels.__getitem__)
        if levels[dominant] > max(
            rules.vibration_axis_factor * min(levels.values()), rules.vibration_axis_min
        ):
            evidence = {f"std_{a}_ms2": round(v, 3) for a, v in levels.items()}
            evidence["axis_factor"] = rules.vibration_axis_factor
            out.append(_advice("check_alignment", evidence, axis=dominant.upper()))
    return out


def temperature_advice(
    readings: dict[str, np.ndarray], rules: RecommendationRules
) -> list[Recommendation]:
    """Advice from the temperatures ``temp_1..4`` (°C).

    ``improve_cooling`` when the hottest reading is above ``rules.temperature_high_c``, else
    ``monitor_temperature`` above ``rules.temperature_elevated_c``; ``thermal_management`` when
    it exceeds the channels' mean by ``rules.temperature_cycling_c``.
    """
    temps = _channels(readings, "temp_")
    if not temps:
        return []
    hottest = float(max(t.max() for t in temps))
    swing = hottest - float(np.mean([t.mean() for t in temps]))
    out = _over(
        "improve_cooling", hottest, rules.temperature_high_c, "max_temperature_c", "limit_c", 2
    ) or _over(
        "monitor_temperature",
        hottest,
        rules.temperature_elevated_c,
        "max_temperature_c",
        "limit_c",
        2,
    )
    out += _over(
        "thermal_management",
        swing,
        rules.temperature_cycling_c,
        "max_minus_mean_c",
        "limit_c",
        2,
    )
    return out


def wear_advice(wear_level: float | None, rules: RecommendationRules) -> list[Recommendation]:
    """Advice from a wear level (0 new – 1 worn out; ``None``: no wear model, no advice).

    ``maintain_now`` above ``rules.wear_urgent``, else ``plan_maintenance`` above
    ``rules.wear_moderate``.
    """
    if wear_level is None:
        return []
    return _over("maintain_now", wear_level, rules.wear_urgent, "wear_level", "limit") or _over(
        "plan_maintenance", wear_level, rules.wear_moderate, "wear_level", "limit"
    )


def anomaly_advice(anomaly_ratio: float | None) -> list[Recommendation]:
    """``investigate_anomaly`` when the detector's score is above its threshold (ratio > 1)."""
    if anomaly_ratio is None:
        return []
    return _over("investigate_anomaly", float(anomaly_ratio), 1.0, "score_over_threshold", "limit")


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
    out = (
        current_advice(readings, rules)
        + vibration_advice(readings, rules)
        + temperature_advice(readings, rules)
        + wear_advice(wear_level, rules)
        + anomaly_advice(anomaly_ratio)
    )
    order = {"urgent": 0, "warning": 1, "info": 2}
    return sorted(out, key=lambda r: order[r.severity])
