"""The sensors of a MODAX device: noise, resolution and range as the firmware reports them.

=================  =====================  ===============  ==================  =================
channel            sensor                 noise σ          resolution          range
=================  =====================  ===============  ==================  =================
current_1, _2      ACS712-20A + 12-bit    0.05 A           0.01 A              ±20 A (clipped)
vib_x, _y, _z      MPU6050 (±8 g)         0.03 m/s²        0.001 m/s²          ±78.45 m/s²
temp_1, _2         DS18B20                0.1 °C           1/16 °C             −55…125 °C
=================  =====================  ===============  ==================  =================

``vib_mag = sqrt(x² + y² + z²)`` of the reported components, so it is always consistent with
them. Sensor faults (:mod:`simulator._faults`) act on the reported values: a *stuck* channel
repeats the value it had when the fault began, *drift* adds ``severity · full_drift · progress``,
*spikes* add ``±(0.5…1) · spike_size`` to a fraction ``5 % · severity`` of the readings, and
*dropout* reads what a disconnected sensor reads: −127 °C for a DS18B20 (outside the contract's
range, so the payload is rejected — labelled in ground truth), 0 for all MPU6050 axes, and −25 A
for an ACS712 whose ADC input is open (0 V at 100 mV/A around 2.5 V).

Examples
--------
>>> quantise(4.034, CURRENT_RESOLUTION)
4.03
>>> quantise(21.3, TEMPERATURE_RESOLUTION)
21.3125
>>> sense(21.3, 0.01, -55.0, 125.0, TEMPERATURE_RESOLUTION), sense(300.0, 0.0, -55.0, 125.0, 16.0)
(21.3125, 125.0)
"""

from __future__ import annotations

import math

from numba import njit

__all__ = [
    "CHANNELS",
    "CH_CURRENT_1",
    "CH_CURRENT_2",
    "CH_TEMP_1",
    "CH_TEMP_2",
    "CH_VIBRATION",
    "CURRENT_NOISE_A",
    "CURRENT_RANGE_A",
    "CURRENT_RESOLUTION",
    "DRIFT_FULL",
    "DROPOUT_VALUE",
    "SPIKE_SIZE",
    "TEMPERATURE_NOISE_C",
    "TEMPERATURE_RANGE_C",
    "TEMPERATURE_RESOLUTION",
    "VIBRATION_NOISE_MS2",
    "VIBRATION_RANGE_MS2",
    "VIBRATION_RESOLUTION",
    "quantise",
    "sense",
]

CH_CURRENT_1 = 0
CH_CURRENT_2 = 1
CH_VIBRATION = 2
CH_TEMP_1 = 3
CH_TEMP_2 = 4
#: Channel names as scenarios spell them, by code.
CHANNELS = ("current_1", "current_2", "vibration", "temp_1", "temp_2")

CURRENT_NOISE_A = 0.05
#: Steps per A (0.01 A).
CURRENT_RESOLUTION = 100.0
CURRENT_RANGE_A = 20.0
VIBRATION_NOISE_MS2 = 0.03
#: Steps per m/s² (0.001 m/s²).
VIBRATION_RESOLUTION = 1000.0
VIBRATION_RANGE_MS2 = 8.0 * 9.80665
TEMPERATURE_NOISE_C = 0.1
#: Steps per °C (DS18B20 12-bit: 1/16 °C).
TEMPERATURE_RESOLUTION = 16.0
TEMPERATURE_RANGE_C = (-55.0, 125.0)
#: Per channel code: what a disconnected sensor reads.
DROPOUT_VALUE = (-25.0, -25.0, 0.0, -127.0, -127.0)
#: Per channel code: the offset a drift of severity 1 reaches at the end of the fault.
DRIFT_FULL = (3.0, 3.0, 3.0, 25.0, 25.0)
#: Per channel code: the largest spike at severity 1.
SPIKE_SIZE = (10.0, 10.0, 30.0, 40.0, 40.0)


@njit(cache=True, error_model="numpy", inline="always")
def quantise(value: float, steps_per_unit: float) -> float:
    """Round ``value`` to the sensor's resolution (``1 / steps_per_unit``)."""
    return math.floor(value * steps_per_unit + 0.5) / steps_per_unit


@njit(cache=True, error_model="numpy", inline="always")
def sense(true_value: float, noise: float, low: float, high: float, steps_per_unit: float) -> float:
    """What a sensor reports: ``true_value + noise``, clipped to its range, at its resolution."""
    return quantise(min(high, max(low, true_value + noise)), steps_per_unit)
