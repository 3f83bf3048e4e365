#include "check.h"
#include "modax_core.h"

namespace {

modax::Reading make(std::int64_t ts, std::initializer_list<double> currents,
                    std::initializer_list<double> temperatures, double z = 9.81) {
  modax::Reading r;
  r.ts_ms = ts;
  for (double c : currents) r.currents_a[r.n_currents++] = c;
  for (double t : temperatures) r.temperatures_c[r.n_temperatures++] = t;
  r.vibration = {0.0, 0.0, z, z};
  return r;
}

/// Feeds `r` and returns the events, nudging vibration so sensor_stuck stays quiet.
std::vector<modax::SafetyEvent> feed(modax::SafetyMonitor& m, modax::Reading r) {
  static double jitter = 0.0;
  jitter += 0.001;
  r.vibration.x = jitter;
  r.vibration.y = -jitter;
  modax::SafetyEvent events[modax::kRuleCount];
  const std::size_t n = m.update(r, events);
  return std::vector<modax::SafetyEvent>(events, events + n);
}

}  // namespace

TEST_CASE(overload_is_strictly_above_the_threshold) {
  modax::SafetyMonitor m;
  feed(m, make(0, {10.0, -10.0}, {40.0}));
  CHECK(!m.active(modax::Rule::kOverload));
  const auto begin = feed(m, make(100, {4.0, -10.5}, {40.0}));
  CHECK(m.active(modax::Rule::kOverload));
  CHECK_EQ(begin.size(), std::size_t(2));  // the large current also unbalances the phases
  CHECK(begin[0].rule == modax::Rule::kOverload && begin[0].begin);
  CHECK_EQ(begin[0].value, 10.5);
  CHECK_EQ(begin[0].threshold, 10.0);
  const auto end = feed(m, make(200, {4.0, 4.0}, {40.0}));
  CHECK(!m.active(modax::Rule::kOverload));
  CHECK(end[0].rule == modax::Rule::kOverload && !end[0].begin);
}

TEST_CASE(overtemp_starts_at_the_threshold) {
  modax::SafetyMonitor m;
  feed(m, make(0, {4.0}, {84.99, 20.0}));
  CHECK(!m.active(modax::Rule::kOvertemp));
  const auto events = feed(m, make(100, {4.0}, {20.0, 85.0}));
  CHECK(m.active(modax::Rule::kOvertemp));
  CHECK_EQ(events[0].value, 85.0);
}

TEST_CASE(temp_rise_measures_over_the_window) {
  modax::SafetyMonitor m;
  // 0.6 °C/s, one reading a second: judged at 10 s, not before.
  for (int s = 0; s < 10; ++s) {
    feed(m, make(s * 1000, {4.0}, {40.0 + 0.6 * s}));
    CHECK(!m.active(modax::Rule::kTempRise));
  }
  const auto events = feed(m, make(10000, {4.0}, {46.0}));
  CHECK(m.active(modax::Rule::kTempRise));
  CHECK_NEAR(events[0].value, 0.6, 1e-12);
  // A slower rise over the next window ends it.
  for (int s = 11; s < 20; ++s) feed(m, make(s * 1000, {4.0}, {46.0}));
  CHECK(m.active(modax::Rule::kTempRise));
  feed(m, make(20000, {4.0}, {48.0}));
  CHECK(!m.active(modax::Rule::kTempRise));
}

TEST_CASE(current_imbalance_needs_two_currents_and_the_minimum_mean) {
  modax::SafetyMonitor m;
  feed(m, make(0, {0.5, 0.1}, {40.0}));  // ratio 1.33 but mean 0.3 A < 1 A
  CHECK(!m.active(modax::Rule::kCurrentImbalance));
  feed(m, make(100, {6.0}, {40.0}));
  CHECK(!m.active(modax::Rule::kCurrentImbalance));
  const auto events = feed(m, make(200, {4.0, -2.0}, {40.0}));  // |I|: 4, 2 → 2/3
  CHECK(m.active(modax::Rule::kCurrentImbalance));
  CHECK_NEAR(events[0].value, 2.0 / 3.0, 1e-15);
  feed(m, make(300, {4.0, 3.5}, {40.0}));  // 0.5 / 3.75 = 0.133
  CHECK(!m.active(modax::Rule::kCurrentImbalance));
}

TEST_CASE(sensor_stuck_counts_identical_values_per_channel) {
  modax::SafetyConfig config;
  config.stuck_samples = 5;
  modax::SafetyMonitor m(config);
  modax::SafetyEvent events[modax::kRuleCount];
  std::size_t n = 0;
  for (int i = 0; i < 4; ++i) {
    modax::Reading r = make(i * 100, {4.0 + i}, {40.0 + i}, 9.81 + i);
    r.currents_a[1] = 7.0;  // the second current never changes
    r.n_currents = 2;
    r.vibration.x = 0.1 * i;
    r.vibration.y = 0.2 * i;
    n = m.update(r, events);
    CHECK(!m.active(modax::Rule::kSensorStuck));
  }
  modax::Reading fifth = make(400, {9.0, 7.0}, {45.0}, 20.0);
  fifth.vibration.x = 0.5;
  fifth.vibration.y = 1.0;
  n = m.update(fifth, events);
  CHECK(m.active(modax::Rule::kSensorStuck));
  CHECK_EQ(n, std::size_t(1));
  CHECK_EQ(events[0].value, 5.0);
  // The channel disappears: its run resets and the flag ends.
  modax::Reading sixth = make(500, {9.5}, {46.0}, 21.0);
  sixth.vibration.x = 0.6;
  sixth.vibration.y = 1.2;
  m.update(sixth, events);
  CHECK(!m.active(modax::Rule::kSensorStuck));
  // It comes back with the same value: a new run of 1.
  modax::Reading seventh = make(600, {9.7, 7.0}, {47.0}, 22.0);
  seventh.vibration.x = 0.7;
  seventh.vibration.y = 1.4;
  m.update(seventh, events);
  CHECK(!m.active(modax::Rule::kSensorStuck));
}

TEST_CASE(events_are_one_begin_and_one_end_per_episode) {
  modax::SafetyMonitor m;
  int begins = 0;
  int ends = 0;
  for (int i = 0; i < 30; ++i) {
    const double current = (i >= 10 && i < 20) ? 12.0 + 0.01 * i : 4.0 + 0.01 * i;
    for (const auto& e : feed(m, make(i * 100, {current, current}, {40.0 + 0.01 * i}))) {
      CHECK(e.rule == modax::Rule::kOverload);
      (e.begin ? begins : ends) += 1;
    }
  }
  CHECK_EQ(begins, 1);
  CHECK_EQ(ends, 1);
}

TEST_CASE(rule_names_match_safety_events_kind) {
  CHECK_EQ(std::string(modax::rule_name(modax::Rule::kOverload)), "overload");
  CHECK_EQ(std::string(modax::rule_name(modax::Rule::kOvertemp)), "overtemp");
  CHECK_EQ(std::string(modax::rule_name(modax::Rule::kTempRise)), "temp_rise");
  CHECK_EQ(std::string(modax::rule_name(modax::Rule::kCurrentImbalance)), "current_imbalance");
  CHECK_EQ(std::string(modax::rule_name(modax::Rule::kSensorStuck)), "sensor_stuck");
}

TEST_CASE(device_safety_fails_safe_on_a_broken_thermistor) {
  const modax::AdcConfig adc;
  const double currents[2] = {4.0, 4.1};
  const modax::NtcReading fine = modax::ntc_temperature(2048, adc, {});
  const modax::NtcReading open = modax::ntc_temperature(4095, adc, {});
  CHECK(modax::evaluate_device_safety(false, true, currents, 2, &fine, 1, {}).temperature_ok);
  const modax::DeviceSafety broken =
      modax::evaluate_device_safety(false, true, currents, 2, &open, 1, {});
  CHECK(!broken.temperature_ok);
  CHECK(broken.tripped());
  const double high[2] = {4.0, 10.01};
  const modax::DeviceSafety over =
      modax::evaluate_device_safety(true, false, high, 2, &fine, 1, {});
  CHECK(over.overload_detected && over.emergency_stop && !over.door_closed);
}

TEST_CASE(safety_messages_go_out_on_change_and_every_second) {
  modax::SafetyPublisher publisher;
  modax::DeviceSafety state;
  CHECK(publisher.due(state, 0));
  publisher.published(state, 0);
  CHECK(!publisher.due(state, 50));
  CHECK(!publisher.due(state, 999));
  CHECK(publisher.due(state, 1000));
  modax::DeviceSafety door_open = state;
  door_open.door_closed = false;  // the original firmware only noticed e-stop changes
  CHECK(publisher.due(door_open, 100));
  publisher.published(door_open, 100);
  CHECK(!publisher.due(door_open, 150));
}
