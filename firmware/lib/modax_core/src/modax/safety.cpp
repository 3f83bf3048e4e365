#include "modax/safety.h"

#include <cmath>

namespace modax {

namespace {

const char* const kRuleNames[kRuleCount] = {
    "overload", "overtemp", "temp_rise", "current_imbalance", "sensor_stuck",
};

double largest_abs(const double* values, int n) {
  double best = 0.0;
  for (int i = 0; i < n; ++i) {
    const double a = std::fabs(values[i]);
    if (i == 0 || a > best) best = a;
  }
  return best;
}

double largest(const double* values, int n) {
  double best = values[0];
  for (int i = 1; i < n; ++i) {
    if (values[i] > best) best = values[i];
  }
  return best;
}

/// (max|I| − min|I|) / mean|I|, or 0 when it is undefined (fewer than 2 currents, mean 0).
double imbalance(const double* currents_a, int n, double* mean_a) {
  *mean_a = 0.0;
  if (n < 2) return 0.0;
  double sum = 0.0;
  double lo = std::fabs(currents_a[0]);
  double hi = lo;
  for (int i = 0; i < n; ++i) {
    const double a = std::fabs(currents_a[i]);
    sum += a;
    if (a < lo) lo = a;
    if (a > hi) hi = a;
  }
  *mean_a = sum / n;
  if (*mean_a == 0.0) return 0.0;
  return (hi - lo) / *mean_a;
}

}  // namespace

const char* rule_name(Rule rule) { return kRuleNames[static_cast<int>(rule)]; }

bool overload(const double* currents_a, int n, const SafetyConfig& config) {
  for (int i = 0; i < n; ++i) {
    if (std::fabs(currents_a[i]) > config.overload_current_a) return true;
  }
  return false;
}

bool overtemp(const double* temperatures_c, int n, const SafetyConfig& config) {
  for (int i = 0; i < n; ++i) {
    if (temperatures_c[i] >= config.max_temperature_c) return true;
  }
  return false;
}

SafetyMonitor::SafetyMonitor(const SafetyConfig& config) : config_(config) { reset(); }

void SafetyMonitor::reset() {
  for (bool& a : active_) a = false;
  has_anchor_ = false;
  anchor_ts_ms_ = 0;
  anchor_temperature_c_ = 0.0;
  last_rate_c_per_s_ = 0.0;
  for (int i = 0; i < kChannels; ++i) {
    previous_[i] = 0.0;
    run_[i] = 0;
  }
}

double SafetyMonitor::temp_rise_value(const Reading& reading, bool* flag) {
  if (reading.n_temperatures == 0) return last_rate_c_per_s_;
  const double hottest = largest(reading.temperatures_c, reading.n_temperatures);
  if (!has_anchor_) {
    has_anchor_ = true;
    anchor_ts_ms_ = reading.ts_ms;
    anchor_temperature_c_ = hottest;
    *flag = false;
    return last_rate_c_per_s_;
  }
  const std::int64_t elapsed_ms = reading.ts_ms - anchor_ts_ms_;
  if (elapsed_ms >= config_.temp_rise_window_ms) {
    last_rate_c_per_s_ =
        (hottest - anchor_temperature_c_) * 1000.0 / static_cast<double>(elapsed_ms);
    *flag = last_rate_c_per_s_ > config_.temp_rise_c_per_s;
    anchor_ts_ms_ = reading.ts_ms;
    anchor_temperature_c_ = hottest;
  }
  return last_rate_c_per_s_;
}

int SafetyMonitor::longest_run(const Reading& reading) {
  double values[kChannels];
  bool present[kChannels];
  for (int i = 0; i < kMaxChannels; ++i) {
    present[i] = i < reading.n_currents;
    values[i] = reading.currents_a[i];
    present[kMaxChannels + i] = i < reading.n_temperatures;
    values[kMaxChannels + i] = reading.temperatures_c[i];
  }
  const int axes = 2 * kMaxChannels;
  values[axes] = reading.vibration.x;
  values[axes + 1] = reading.vibration.y;
  values[axes + 2] = reading.vibration.z;
  present[axes] = present[axes + 1] = present[axes + 2] = true;

  int longest = 0;
  for (int c = 0; c < kChannels; ++c) {
    if (!present[c]) {
      run_[c] = 0;
      continue;
    }
    run_[c] = (run_[c] > 0 && values[c] == previous_[c]) ? run_[c] + 1 : 1;
    previous_[c] = values[c];
    if (run_[c] > longest) longest = run_[c];
  }
  return longest;
}

std::size_t SafetyMonitor::update(const Reading& reading, SafetyEvent* events) {
  bool now[kRuleCount];
  double value[kRuleCount];
  double threshold[kRuleCount] = {
      config_.overload_current_a, config_.max_temperature_c,  config_.temp_rise_c_per_s,
      config_.imbalance_ratio,    static_cast<double>(config_.stuck_samples),
  };

  now[0] = overload(reading.currents_a, reading.n_currents, config_);
  value[0] = largest_abs(reading.currents_a, reading.n_currents);

  now[1] = overtemp(reading.temperatures_c, reading.n_temperatures, config_);
  value[1] = reading.n_temperatures > 0
                 ? largest(reading.temperatures_c, reading.n_temperatures)
                 : 0.0;

  now[2] = active_[2];
  value[2] = temp_rise_value(reading, &now[2]);

  double mean_a = 0.0;
  value[3] = imbalance(reading.currents_a, reading.n_currents, &mean_a);
  now[3] = reading.n_currents >= 2 && mean_a >= config_.imbalance_min_current_a &&
           value[3] > config_.imbalance_ratio;

  const int run = longest_run(reading);
  value[4] = static_cast<double>(run);
  now[4] = run >= config_.stuck_samples;

  std::size_t n = 0;
  for (int r = 0; r < kRuleCount; ++r) {
    if (now[r] != active_[r]) {
      events[n++] = SafetyEvent{static_cast<Rule>(r), now[r], value[r], threshold[r]};
      active_[r] = now[r];
    }
  }
  return n;
}

}  // namespace modax
