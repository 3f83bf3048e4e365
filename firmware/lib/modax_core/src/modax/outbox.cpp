#include "modax/outbox.h"

#include <cmath>

#include "modax/conversions.h"

namespace modax {

namespace {

constexpr double kInt32Limit = 2147483647.0;

std::int32_t to_fixed(double value, double scale) {
  double scaled = std::round(value * scale);
  if (!(scaled >= -kInt32Limit)) scaled = -kInt32Limit;  // also NaN
  if (scaled > kInt32Limit) scaled = kInt32Limit;
  return static_cast<std::int32_t>(scaled);
}

constexpr double kMilli = 1000.0;
constexpr double kCenti = 100.0;

}  // namespace

TelemetryRecord pack(const Reading& reading, std::int64_t seq) {
  TelemetryRecord record{};
  record.ts_ms = reading.ts_ms;
  record.seq = seq;
  record.n_currents = static_cast<std::uint8_t>(reading.n_currents);
  record.n_temperatures = static_cast<std::uint8_t>(reading.n_temperatures);
  for (int i = 0; i < kMaxChannels; ++i) {
    record.current_ma[i] = i < reading.n_currents ? to_fixed(reading.currents_a[i], kMilli) : 0;
    record.temperature_cc[i] =
        i < reading.n_temperatures ? to_fixed(reading.temperatures_c[i], kCenti) : 0;
  }
  record.vibration_mms2[0] = to_fixed(reading.vibration.x, kMilli);
  record.vibration_mms2[1] = to_fixed(reading.vibration.y, kMilli);
  record.vibration_mms2[2] = to_fixed(reading.vibration.z, kMilli);
  return record;
}

Reading unpack(const TelemetryRecord& record) {
  Reading reading;
  reading.ts_ms = record.ts_ms;
  reading.n_currents = record.n_currents;
  reading.n_temperatures = record.n_temperatures;
  for (int i = 0; i < record.n_currents; ++i) reading.currents_a[i] = record.current_ma[i] / kMilli;
  for (int i = 0; i < record.n_temperatures; ++i) {
    reading.temperatures_c[i] = record.temperature_cc[i] / kCenti;
  }
  Vibration& v = reading.vibration;
  v.x = record.vibration_mms2[0] / kMilli;
  v.y = record.vibration_mms2[1] / kMilli;
  v.z = record.vibration_mms2[2] / kMilli;
  v.magnitude = quantize(magnitude(v.x, v.y, v.z), kVibrationDecimals);
  return reading;
}

}  // namespace modax
