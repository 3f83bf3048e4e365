"""The safety rules' thresholds have one home that every implementation reads."""

from __future__ import annotations

import pytest

from modax.kernels.safety import SafetyChecker
from modax.schema import DEFAULT_SAFETY, SafetyConfig
from modax.viz import OVERLOAD_CURRENT_A, OVERTEMP_C
from simulator._kernel import OVERLOAD_LIMIT_A, TEMPERATURE_LIMIT_C


def test_the_kernel_the_dashboards_and_the_simulator_read_the_same_limits():
    limits = (DEFAULT_SAFETY.overload_current_a, DEFAULT_SAFETY.max_temperature_c)
    assert SafetyChecker().config == DEFAULT_SAFETY
    assert limits == (OVERLOAD_CURRENT_A, OVERTEMP_C)
    assert limits == (OVERLOAD_LIMIT_A, TEMPERATURE_LIMIT_C)


def test_the_defaults_are_the_modax_firmware_limits():
    assert (DEFAULT_SAFETY.overload_current_a, DEFAULT_SAFETY.max_temperature_c) == (10.0, 85.0)


def test_an_unknown_threshold_is_named():
    with pytest.raises(ValueError, match="overload_amps"):
        SafetyConfig.from_dict({"overload_amps": 12.0})
