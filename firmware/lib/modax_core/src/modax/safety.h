// The safety rules of docs/safety-rules.md as a per-device state machine.
//
// The same rules live in the numba kernel modax.kernels.safety and a plain-Python reference;
// all three are held to the shared vectors in firmware/vectors/safety_*.json. Device-only
// inputs (e-stop, door) and `stale` are not evaluated here: see device_safety.h.
#pragma once

#include <cstddef>
#include <cstdint>

#include "modax/reading.h"

namespace modax {

/// Thresholds of the rules; the defaults are those of docs/safety-rules.md.
struct SafetyConfig {
  double overload_current_a = 10.0;      ///< overload while any |I| > this, in A
  double max_temperature_c = 85.0;       ///< overtemp while any T >= this, in °C
  double temp_rise_c_per_s = 0.5;        ///< temp_rise while the rate of max(T) > this, °C/s
  std::int64_t temp_rise_window_ms = 10000;  ///< rate measured over at least this, in ms
  double imbalance_ratio = 0.25;         ///< (max|I| − min|I|) / mean|I| above this
  double imbalance_min_current_a = 1.0;  ///< ... when mean|I| is at least this, in A
  int stuck_samples = 50;                ///< identical consecutive readings of one channel
};

enum class Rule : std::uint8_t {
  kOverload = 0,
  kOvertemp = 1,
  kTempRise = 2,
  kCurrentImbalance = 3,
  kSensorStuck = 4,
};
constexpr int kRuleCount = 5;

/// The rule's name as in safety_events.kind ("overload", "overtemp", ...).
const char* rule_name(Rule rule);

/// Whether overload holds for these currents (any |I| > threshold): stateless.
bool overload(const double* currents_a, int n, const SafetyConfig& config);
/// Whether overtemp holds for these temperatures (any T >= threshold): stateless.
bool overtemp(const double* temperatures_c, int n, const SafetyConfig& config);

/// One state change: a rule begins or ends.
struct SafetyEvent {
  Rule rule;
  bool begin;        ///< true: 'begin', false: 'end'
  double value;      ///< the reading that caused the change (see docs/safety-rules.md)
  double threshold;  ///< the rule's threshold
};

/// Feeds readings of one device in event-time order and reports state changes.
///
/// Example:
///   modax::SafetyMonitor monitor;
///   modax::SafetyEvent events[modax::kRuleCount];
///   std::size_t n = monitor.update(reading, events);  // events[0..n) changed state
///   bool hot = monitor.active(modax::Rule::kOvertemp);
class SafetyMonitor {
 public:
  explicit SafetyMonitor(const SafetyConfig& config = SafetyConfig());

  /// Evaluates every rule after `reading`; writes each state change to `events` (room for
  /// kRuleCount) in Rule order and returns how many were written.
  std::size_t update(const Reading& reading, SafetyEvent* events);

  bool active(Rule rule) const { return active_[static_cast<int>(rule)]; }
  const SafetyConfig& config() const { return config_; }

  /// Forgets all state, as at start.
  void reset();

 private:
  static constexpr int kChannels = 2 * kMaxChannels + 3;  // currents, temperatures, x, y, z

  double temp_rise_value(const Reading& reading, bool* flag);
  int longest_run(const Reading& reading);

  SafetyConfig config_;
  bool active_[kRuleCount];
  bool has_anchor_;
  std::int64_t anchor_ts_ms_;
  double anchor_temperature_c_;
  double last_rate_c_per_s_;
  double previous_[kChannels];
  int run_[kChannels];
};

}  // namespace modax
