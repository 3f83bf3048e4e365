// Sensor conversions: ADC counts and register values to physical units.
//
// Two bugs of the original MODAX firmware are fixed here:
//  * its thermistor formula rose with resistance, the wrong way for an NTC (at 100 °C it
//    reported about -68 °C, so the 85 °C cut-off never tripped); ntc_temperature() uses the
//    Beta equation;
//  * an ADC reading at full scale divided by zero and printed `inf`, which is not JSON; here
//    the rails are a reported sensor fault and every result is finite.
#pragma once

#include <cstdint>

#include "modax/reading.h"

namespace modax {

/// The ADC in use: counts at full scale and the voltage they stand for.
struct AdcConfig {
  int full_scale = 4095;  ///< ESP32: 12 bits
  double vref_v = 3.3;    ///< V at full scale
};

/// An ACS712 Hall-effect current sensor behind the ADC.
struct Acs712Config {
  double zero_v = 1.65;               ///< output at 0 A, in V (MODAX: 1.65 V)
  double sensitivity_v_per_a = 0.100; ///< V per A (MODAX: 100 mV/A, the ±20 A part)
};

/// Current through an ACS712 in A (signed), from ADC counts. Counts outside
/// [0, full_scale] are clamped, so the result is always finite.
///
/// Example: acs712_current_a(4095, {}, {}) == 16.5 (A, the top of the range).
double acs712_current_a(int counts, const AdcConfig& adc, const Acs712Config& sensor);

/// An NTC thermistor from the ADC input to ground, a series resistor from the input to the
/// supply (the wiring of Wokwi's NTC module: a 10 kΩ, B = 3950 thermistor and 10 kΩ).
struct NtcConfig {
  double beta_k = 3950.0;       ///< Beta coefficient, in K
  double r0_ohm = 10000.0;      ///< resistance at t0_c, in Ω
  double t0_c = 25.0;           ///< reference temperature, in °C
  double series_ohm = 10000.0;  ///< series resistor to the supply, in Ω
};

enum class NtcStatus : std::uint8_t {
  kOk,          ///< a temperature within the sensor range
  kOpen,        ///< ADC at full scale: thermistor open or missing
  kShorted,     ///< ADC at zero: thermistor or input shorted to ground
  kOutOfRange,  ///< a temperature outside kTemperatureMinC..kTemperatureMaxC
};

/// A temperature in °C, always finite and within the contract's range, with the sensor's state.
/// On a fault the value is the nearest end of the range (open → coldest, shorted → hottest).
struct NtcReading {
  double celsius;
  NtcStatus status;
  bool ok() const { return status == NtcStatus::kOk; }
};

/// Temperature of the thermistor from ADC counts (Beta equation:
/// 1/T = 1/T0 + ln(R/R0)/B, with R = series · counts / (full_scale − counts)).
///
/// Example: with the defaults, 2048 counts (R ≈ R0) give about 25 °C; 4095 gives kOpen.
NtcReading ntc_temperature(int counts, const AdcConfig& adc, const NtcConfig& sensor);

/// Full-scale range of the MPU6050 accelerometer (register ACCEL_CONFIG, AFS_SEL).
enum class AccelRange : std::uint8_t { k2g = 0, k4g = 1, k8g = 2, k16g = 3 };

/// Standard gravity, in m/s² per g.
constexpr double kStandardGravity = 9.80665;

/// Acceleration in m/s² from one raw MPU6050 axis (16-bit two's complement).
double mpu6050_accel_ms2(std::int16_t raw, AccelRange range);

/// Euclidean norm of (x, y, z), in the unit of its inputs.
double magnitude(double x, double y, double z);

/// Decimal places published per quantity: 1 mA, 0.01 °C, 1 mm/s².
constexpr int kCurrentDecimals = 3;
constexpr int kTemperatureDecimals = 2;
constexpr int kVibrationDecimals = 3;

/// `value` rounded to `decimals` places: the double nearest the decimal number the payload
/// shows, so the device's safety checks and the ingester's see exactly the same value.
double quantize(double value, int decimals);

/// The reading as the device publishes it: every value quantized, the vibration magnitude
/// computed from the quantized components.
Reading quantized(const Reading& reading);

}  // namespace modax
