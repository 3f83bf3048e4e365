// The device's own safety message: e-stop, door, overload and temperature at 20 Hz,
// published on every change and at least once a second.
#pragma once

#include <cstdint>

#include "modax/conversions.h"
#include "modax/safety.h"

namespace modax {

/// What a safety message carries (modax.schema.SafetyStatus).
struct DeviceSafety {
  bool emergency_stop = false;
  bool door_closed = true;
  bool overload_detected = false;
  bool temperature_ok = true;

  bool operator==(const DeviceSafety& other) const {
    return emergency_stop == other.emergency_stop && door_closed == other.door_closed &&
           overload_detected == other.overload_detected && temperature_ok == other.temperature_ok;
  }
  bool operator!=(const DeviceSafety& other) const { return !(*this == other); }
  /// Whether anything calls for the machine to stop.
  bool tripped() const {
    return emergency_stop || !door_closed || overload_detected || !temperature_ok;
  }
};

/// The safety message for the switch states and one sample of the sensors.
/// `temperature_ok` is false when any temperature is at or above the limit or any thermistor
/// is faulty (open, shorted, out of range): a sensor the device cannot read is not OK.
///
/// Example:
///   modax::NtcReading t = modax::ntc_temperature(counts, adc, ntc);
///   modax::DeviceSafety s = modax::evaluate_device_safety(false, true, currents, 2, &t, 1, {});
DeviceSafety evaluate_device_safety(bool emergency_stop, bool door_closed,
                                    const double* currents_a, int n_currents,
                                    const NtcReading* temperatures, int n_temperatures,
                                    const SafetyConfig& config);

/// Decides when to publish: on every change of the message and at least every `period_ms`.
///
/// Example:
///   modax::SafetyPublisher pub;
///   if (pub.due(state, now_ms)) { publish(state); pub.published(state, now_ms); }
class SafetyPublisher {
 public:
  explicit SafetyPublisher(std::int64_t period_ms = 1000) : period_ms_(period_ms) {}

  bool due(const DeviceSafety& state, std::int64_t now_ms) const {
    return !has_published_ || state != last_ || now_ms - last_ms_ >= period_ms_;
  }
  void published(const DeviceSafety& state, std::int64_t now_ms) {
    has_published_ = true;
    last_ = state;
    last_ms_ = now_ms;
  }

 private:
  std::int64_t period_ms_;
  bool has_published_ = false;
  DeviceSafety last_;
  std::int64_t last_ms_ = 0;
};

}  // namespace modax
