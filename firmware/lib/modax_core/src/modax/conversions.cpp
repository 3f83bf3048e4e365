#include "modax/conversions.h"

#include <cmath>

namespace modax {

namespace {

constexpr double kKelvinOffset = 273.15;
constexpr double kPow10[] = {1.0, 10.0, 100.0, 1000.0, 10000.0, 100000.0, 1000000.0};

int clamp_counts(int counts, int full_scale) {
  if (counts < 0) return 0;
  if (counts > full_scale) return full_scale;
  return counts;
}

}  // namespace

double acs712_current_a(int counts, const AdcConfig& adc, const Acs712Config& sensor) {
  const double volts =
      static_cast<double>(clamp_counts(counts, adc.full_scale)) * adc.vref_v / adc.full_scale;
  return (volts - sensor.zero_v) / sensor.sensitivity_v_per_a;
}

NtcReading ntc_temperature(int counts, const AdcConfig& adc, const NtcConfig& sensor) {
  if (counts >= adc.full_scale) return {kTemperatureMinC, NtcStatus::kOpen};
  if (counts <= 0) return {kTemperatureMaxC, NtcStatus::kShorted};
  const double ohm = sensor.series_ohm * counts / static_cast<double>(adc.full_scale - counts);
  const double inverse_k =
      1.0 / (sensor.t0_c + kKelvinOffset) + std::log(ohm / sensor.r0_ohm) / sensor.beta_k;
  if (!(inverse_k > 0.0)) return {kTemperatureMinC, NtcStatus::kOutOfRange};
  const double celsius = 1.0 / inverse_k - kKelvinOffset;
  if (!std::isfinite(celsius) || celsius < kTemperatureMinC) {
    return {kTemperatureMinC, NtcStatus::kOutOfRange};
  }
  if (celsius > kTemperatureMaxC) return {kTemperatureMaxC, NtcStatus::kOutOfRange};
  return {celsius, NtcStatus::kOk};
}

double mpu6050_accel_ms2(std::int16_t raw, AccelRange range) {
  // 16384 LSB/g at ±2 g, halving with each doubling of the range.
  const double lsb_per_g = 16384.0 / static_cast<double>(1 << static_cast<int>(range));
  return static_cast<double>(raw) / lsb_per_g * kStandardGravity;
}

double magnitude(double x, double y, double z) { return std::sqrt(x * x + y * y + z * z); }

double quantize(double value, int decimals) {
  const double scale = kPow10[decimals];
  return std::round(value * scale) / scale;
}

Reading quantized(const Reading& reading) {
  Reading out = reading;
  for (int i = 0; i < out.n_currents; ++i) {
    out.currents_a[i] = quantize(reading.currents_a[i], kCurrentDecimals);
  }
  for (int i = 0; i < out.n_temperatures; ++i) {
    out.temperatures_c[i] = quantize(reading.temperatures_c[i], kTemperatureDecimals);
  }
  Vibration& v = out.vibration;
  v.x = quantize(reading.vibration.x, kVibrationDecimals);
  v.y = quantize(reading.vibration.y, kVibrationDecimals);
  v.z = quantize(reading.vibration.z, kVibrationDecimals);
  v.magnitude = quantize(magnitude(v.x, v.y, v.z), kVibrationDecimals);
  return out;
}

}  // namespace modax
