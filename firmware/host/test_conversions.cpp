#include <cmath>
#include <cstdlib>

#include "check.h"
#include "modax_core.h"

namespace {

const modax::AdcConfig kAdc;
const modax::NtcConfig kNtc;

/// ADC counts the NTC divider gives at `celsius` (Beta model, the inverse of the conversion).
int ntc_counts(double celsius) {
  const double ohm =
      kNtc.r0_ohm * std::exp(kNtc.beta_k * (1.0 / (celsius + 273.15) - 1.0 / 298.15));
  return static_cast<int>(std::lround(kAdc.full_scale * ohm / (ohm + kNtc.series_ohm)));
}

/// The original MODAX firmware's thermistor formula, kept here to show the bug it had.
double legacy_temperature(int counts) {
  const double volts = counts * (3.3 / 4095.0);
  const double resistance = 10000.0 * volts / (3.3 - volts);
  return 25.0 + (resistance - 10000.0) / 100.0;
}

}  // namespace

TEST_CASE(acs712_matches_the_modax_conversion) {
  CHECK_NEAR(modax::acs712_current_a(2048, kAdc, {}), 0.0, 0.01);
  CHECK_NEAR(modax::acs712_current_a(4095, kAdc, {}), 16.5, 1e-9);
  CHECK_NEAR(modax::acs712_current_a(0, kAdc, {}), -16.5, 1e-9);
  // (counts · 3.3 / 4095 − 1.65) / 0.1, as the original firmware computed it
  CHECK_NEAR(modax::acs712_current_a(3500, kAdc, {}), (3500 * (3.3 / 4095.0) - 1.65) / 0.1,
             1e-12);
}

TEST_CASE(acs712_clamps_counts_outside_the_adc_range) {
  CHECK_EQ(modax::acs712_current_a(5000, kAdc, {}), modax::acs712_current_a(4095, kAdc, {}));
  CHECK_EQ(modax::acs712_current_a(-3, kAdc, {}), modax::acs712_current_a(0, kAdc, {}));
}

TEST_CASE(ntc_reads_hot_as_hot) {
  // The original formula reports about −68 °C at 100 °C, so its 85 °C cut-off never tripped.
  const int hot = ntc_counts(100.0);
  CHECK(legacy_temperature(hot) < -60.0);
  const modax::NtcReading r = modax::ntc_temperature(hot, kAdc, kNtc);
  CHECK(r.ok());
  CHECK_NEAR(r.celsius, 100.0, 0.5);
  CHECK_NEAR(modax::ntc_temperature(ntc_counts(85.0), kAdc, kNtc).celsius, 85.0, 0.3);
  CHECK_NEAR(modax::ntc_temperature(ntc_counts(25.0), kAdc, kNtc).celsius, 25.0, 0.1);
  CHECK_NEAR(modax::ntc_temperature(ntc_counts(-20.0), kAdc, kNtc).celsius, -20.0, 0.1);
}

TEST_CASE(ntc_temperature_falls_as_counts_rise) {
  double previous = 1e9;
  for (int counts = 1; counts < kAdc.full_scale; ++counts) {
    const modax::NtcReading r = modax::ntc_temperature(counts, kAdc, kNtc);
    CHECK(std::isfinite(r.celsius));
    CHECK(r.celsius <= previous);
    previous = r.celsius;
  }
}

TEST_CASE(ntc_at_the_rails_is_a_finite_fault) {
  const modax::NtcReading open = modax::ntc_temperature(4095, kAdc, kNtc);
  CHECK(open.status == modax::NtcStatus::kOpen);
  CHECK_EQ(open.celsius, modax::kTemperatureMinC);
  const modax::NtcReading beyond = modax::ntc_temperature(4200, kAdc, kNtc);
  CHECK(beyond.status == modax::NtcStatus::kOpen);
  const modax::NtcReading shorted = modax::ntc_temperature(0, kAdc, kNtc);
  CHECK(shorted.status == modax::NtcStatus::kShorted);
  CHECK_EQ(shorted.celsius, modax::kTemperatureMaxC);
  const modax::NtcReading near_short = modax::ntc_temperature(1, kAdc, kNtc);
  CHECK(near_short.status == modax::NtcStatus::kOutOfRange);
  CHECK_EQ(near_short.celsius, modax::kTemperatureMaxC);
  const modax::NtcReading near_open = modax::ntc_temperature(4094, kAdc, kNtc);
  CHECK(near_open.status == modax::NtcStatus::kOutOfRange);
  CHECK_EQ(near_open.celsius, modax::kTemperatureMinC);
}

TEST_CASE(mpu6050_scales_by_range) {
  CHECK_NEAR(modax::mpu6050_accel_ms2(4096, modax::AccelRange::k8g), 9.80665, 1e-12);
  CHECK_NEAR(modax::mpu6050_accel_ms2(16384, modax::AccelRange::k2g), 9.80665, 1e-12);
  CHECK_NEAR(modax::mpu6050_accel_ms2(-32768, modax::AccelRange::k16g), -16 * 9.80665, 1e-9);
  CHECK_EQ(modax::mpu6050_accel_ms2(0, modax::AccelRange::k4g), 0.0);
}

TEST_CASE(quantize_gives_the_double_of_the_printed_decimal) {
  CHECK_EQ(modax::quantize(4.12345, 3), std::strtod("4.123", nullptr));
  CHECK_EQ(modax::quantize(-0.0996, 2), std::strtod("-0.1", nullptr));
  CHECK_EQ(modax::quantize(16.5, 3), 16.5);
  modax::Reading r;
  r.n_currents = 1;
  r.currents_a[0] = 3.14159;
  r.n_temperatures = 1;
  r.temperatures_c[0] = 41.456;
  r.vibration = {0.1234, -0.5, 9.80665, 0.0};
  const modax::Reading q = modax::quantized(r);
  CHECK_EQ(q.currents_a[0], std::strtod("3.142", nullptr));
  CHECK_EQ(q.temperatures_c[0], std::strtod("41.46", nullptr));
  CHECK_EQ(q.vibration.z, std::strtod("9.807", nullptr));
  CHECK_EQ(q.vibration.magnitude,
           modax::quantize(modax::magnitude(q.vibration.x, q.vibration.y, q.vibration.z), 3));
}
