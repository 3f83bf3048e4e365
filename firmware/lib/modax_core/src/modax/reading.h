// One telemetry reading of a device, in physical units.
#pragma once

#include <cstdint>

#include "modax/limits.h"

namespace modax {

/// Acceleration as the MPU6050 sees it (gravity included), in m/s².
struct Vibration {
  double x = 0.0;
  double y = 0.0;
  double z = 0.0;
  double magnitude = 0.0;
};

/// One reading: what a telemetry message carries besides device id, timestamp and seq.
///
/// Example:
///   modax::Reading r;
///   r.ts_ms = 0;
///   r.n_currents = 2; r.currents_a[0] = 4.2; r.currents_a[1] = 4.1;
///   r.n_temperatures = 1; r.temperatures_c[0] = 41.5;
///   r.vibration = {0.0, 0.0, 9.81, 9.81};
struct Reading {
  /// Time of the reading in ms (monotonic on the device, event time in the vectors).
  std::int64_t ts_ms = 0;
  int n_currents = 0;
  double currents_a[kMaxChannels] = {0.0, 0.0, 0.0, 0.0};
  int n_temperatures = 0;
  double temperatures_c[kMaxChannels] = {0.0, 0.0, 0.0, 0.0};
  Vibration vibration;
};

}  // namespace modax
