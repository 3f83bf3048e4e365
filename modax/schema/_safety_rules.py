"""The safety rules' thresholds: the one home every implementation reads.

The numba kernel (:mod:`modax.kernels.safety`), the dashboards' fallback rules, the simulator's
device model and the Wokwi runner take their limits from :data:`DEFAULT_SAFETY`; the firmware's
C++ core is held to it by ``tests/test_firmware.py`` (its ``safety_defaults``). Sources and
reasons for each default are in ``docs/safety-rules.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

__all__ = ["DEFAULT_SAFETY", "SafetyConfig"]


@dataclass(frozen=True)
class SafetyConfig:
    """Thresholds of the safety rules; defaults and their sources are in ``docs/safety-rules.md``.

    Attributes
    ----------
    overload_current_a : float
        Overload while any ``abs(I) >`` this, in A (MODAX firmware: 10 A).
    max_temperature_c : float
        Over-temperature while any ``T >=`` this, in °C (MODAX firmware: 85 °C).
    temp_rise_c_per_s : float
        Rate of rise of the hottest temperature above which ``temp_rise`` holds, in °C/s.
    temp_rise_window_ms : int
        The rate is measured over at least this span of event time, in ms.
    imbalance_ratio : float
        ``(max|I| - min|I|) / mean|I|`` above which ``current_imbalance`` holds.
    imbalance_min_current_a : float
        ... only while ``mean|I|`` is at least this, in A.
    stuck_samples : int
        Identical consecutive readings of one channel that make it ``sensor_stuck``.
    stale_after_ms : int
        A device with no reading for longer than this is ``stale``, in ms.

    Examples
    --------
    >>> SafetyConfig(stuck_samples=5).stuck_samples
    5
    >>> SafetyConfig.from_dict({"overload_current_a": 12.0}).overload_current_a
    12.0
    """

    overload_current_a: float = 10.0
    max_temperature_c: float = 85.0
    temp_rise_c_per_s: float = 0.5
    temp_rise_window_ms: int = 10_000
    imbalance_ratio: float = 0.25
    imbalance_min_current_a: float = 1.0
    stuck_samples: int = 50
    stale_after_ms: int = 5_000

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> SafetyConfig:
        """A config from a mapping (e.g. a vector's ``config``); unknown keys are an error."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"safety config: unknown key(s) {unknown}; known: {sorted(known)}")
        return cls(**values)

    def to_dict(self) -> dict[str, float]:
        """The thresholds as a plain dict."""
        return asdict(self)

    def threshold(self, kind: str) -> float:
        """The threshold reported with events of ``kind`` (NaN for e-stop and door)."""
        return {
            "overload": self.overload_current_a,
            "overtemp": self.max_temperature_c,
            "temp_rise": self.temp_rise_c_per_s,
            "current_imbalance": self.imbalance_ratio,
            "sensor_stuck": float(self.stuck_samples),
            "stale": float(self.stale_after_ms),
        }.get(kind, float("nan"))


#: The defaults: MODAX firmware's 10 A overload and 85 °C temperature limits and the added rules.
DEFAULT_SAFETY = SafetyConfig()
