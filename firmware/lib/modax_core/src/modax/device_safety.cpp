#include "modax/device_safety.h"

namespace modax {

DeviceSafety evaluate_device_safety(bool emergency_stop, bool door_closed,
                                    const double* currents_a, int n_currents,
                                    const NtcReading* temperatures, int n_temperatures,
                                    const SafetyConfig& config) {
  DeviceSafety state;
  state.emergency_stop = emergency_stop;
  state.door_closed = door_closed;
  state.overload_detected = overload(currents_a, n_currents, config);
  bool ok = true;
  for (int i = 0; i < n_temperatures; ++i) {
    if (!temperatures[i].ok() || overtemp(&temperatures[i].celsius, 1, config)) ok = false;
  }
  state.temperature_ok = ok;
  return state;
}

}  // namespace modax
