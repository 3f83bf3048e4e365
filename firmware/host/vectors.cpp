#include "vectors.h"

#include <dirent.h>

#include <algorithm>
#include <cmath>
#include <sstream>

namespace vectors {

namespace {

int fill(const json::Value* list, double* out, const char* name) {
  if (list == nullptr) return 0;
  if (!list->is_array() || list->items.size() > static_cast<std::size_t>(modax::kMaxChannels)) {
    throw std::runtime_error(std::string(name) + " must be a list of at most 4 numbers");
  }
  int n = 0;
  for (const json::Value& v : list->items) out[n++] = v.as_double();
  return n;
}

bool close(double a, double b) {
  return std::fabs(a - b) <= 1e-9 * std::max(1.0, std::max(std::fabs(a), std::fabs(b)));
}

std::string describe(double value) {
  std::ostringstream s;
  s.precision(17);
  s << value;
  return s.str();
}

modax::AdcConfig adc_config(const json::Value& sensors) {
  modax::AdcConfig adc;
  if (const json::Value* v = sensors.find("adc_full_scale")) adc.full_scale = int(v->as_int());
  return adc;
}

modax::AccelRange accel_range(const json::Value& sensors) {
  const json::Value* g = sensors.find("accel_range_g");
  const std::int64_t range = g == nullptr ? 8 : g->as_int();
  switch (range) {
    case 2: return modax::AccelRange::k2g;
    case 4: return modax::AccelRange::k4g;
    case 8: return modax::AccelRange::k8g;
    case 16: return modax::AccelRange::k16g;
    default: throw std::runtime_error("accel_range_g must be 2, 4, 8 or 16");
  }
}

/// A reading from raw sensor values, converted the way the device converts them.
modax::Reading reading_from_sensors(const json::Value& sensors) {
  const modax::AdcConfig adc = adc_config(sensors);
  modax::Reading r;
  for (const json::Value& c : sensors.at("current_counts").items) {
    r.currents_a[r.n_currents++] = modax::acs712_current_a(int(c.as_int()), adc, {});
  }
  for (const json::Value& c : sensors.at("ntc_counts").items) {
    r.temperatures_c[r.n_temperatures++] = modax::ntc_temperature(int(c.as_int()), adc, {}).celsius;
  }
  const json::Value& raw = sensors.at("accel_raw");
  const modax::AccelRange range = accel_range(sensors);
  r.vibration.x = modax::mpu6050_accel_ms2(std::int16_t(raw.items.at(0).as_int()), range);
  r.vibration.y = modax::mpu6050_accel_ms2(std::int16_t(raw.items.at(1).as_int()), range);
  r.vibration.z = modax::mpu6050_accel_ms2(std::int16_t(raw.items.at(2).as_int()), range);
  return r;
}

modax::DeviceSafety safety_from_sensors(const json::Value& sensors) {
  const modax::AdcConfig adc = adc_config(sensors);
  double currents[modax::kMaxChannels];
  int n_currents = 0;
  for (const json::Value& c : sensors.at("current_counts").items) {
    currents[n_currents++] = modax::acs712_current_a(int(c.as_int()), adc, {});
  }
  modax::NtcReading temperatures[modax::kMaxChannels];
  int n_temperatures = 0;
  for (const json::Value& c : sensors.at("ntc_counts").items) {
    temperatures[n_temperatures++] = modax::ntc_temperature(int(c.as_int()), adc, {});
  }
  return modax::evaluate_device_safety(sensors.at("emergency_stop_pressed").as_bool(),
                                       sensors.at("door_closed").as_bool(), currents, n_currents,
                                       temperatures, n_temperatures, modax::SafetyConfig());
}

modax::DeviceSafety safety_state(const json::Value& state) {
  modax::DeviceSafety s;
  s.emergency_stop = state.at("emergency_stop").as_bool();
  s.door_closed = state.at("door_closed").as_bool();
  s.overload_detected = state.at("overload_detected").as_bool();
  s.temperature_ok = state.at("temperature_ok").as_bool();
  return s;
}

Built build_one(const std::string& device_id, const json::Value& message) {
  const std::string& kind = message.at("kind").as_string();
  Built built;
  char topic[160];
  if (modax::topic_for(topic, sizeof topic, device_id.c_str(), kind.c_str()) > 0) {
    built.topic = topic;
  }
  char payload[1024];
  modax::PayloadResult result;
  if (kind == "telemetry") {
    const json::Value* sensors = message.find("sensors");
    const modax::Reading r =
        modax::quantized(sensors != nullptr ? reading_from_sensors(*sensors)
                                            : reading(message.at("reading")));
    result = modax::build_telemetry(payload, sizeof payload, device_id.c_str(),
                                    message.at("timestamp").as_int(), message.at("seq").as_int(),
                                    r);
  } else if (kind == "safety") {
    const json::Value* sensors = message.find("sensors");
    const modax::DeviceSafety s =
        sensors != nullptr ? safety_from_sensors(*sensors) : safety_state(message.at("state"));
    result = modax::build_safety(payload, sizeof payload, device_id.c_str(),
                                 message.at("timestamp").as_int(), message.at("seq").as_int(), s);
  } else if (kind == "status") {
    modax::StatusInfo info;
    if (const json::Value* v = message.find("timestamp")) info.timestamp_ms = v->as_int();
    if (const json::Value* v = message.find("firmware_version")) {
      info.firmware_version = v->as_string().c_str();
    }
    if (const json::Value* v = message.find("uptime_ms")) info.uptime_ms = v->as_int();
    result = modax::build_status(payload, sizeof payload, device_id.c_str(),
                                 message.at("online").as_bool(), info);
  } else {
    throw std::runtime_error("unknown message kind \"" + kind + "\"");
  }
  if (result.ok()) {
    built.payload.assign(payload, result.length);
  } else {
    built.error = std::string(modax::payload_error_name(result.error)) + ":" + result.field;
  }
  return built;
}

}  // namespace

modax::SafetyConfig safety_config(const json::Value& config) {
  modax::SafetyConfig c;
  if (const json::Value* v = config.find("overload_current_a")) c.overload_current_a = v->as_double();
  if (const json::Value* v = config.find("max_temperature_c")) c.max_temperature_c = v->as_double();
  if (const json::Value* v = config.find("temp_rise_c_per_s")) c.temp_rise_c_per_s = v->as_double();
  if (const json::Value* v = config.find("temp_rise_window_ms")) c.temp_rise_window_ms = v->as_int();
  if (const json::Value* v = config.find("imbalance_ratio")) c.imbalance_ratio = v->as_double();
  if (const json::Value* v = config.find("imbalance_min_current_a")) {
    c.imbalance_min_current_a = v->as_double();
  }
  if (const json::Value* v = config.find("stuck_samples")) c.stuck_samples = int(v->as_int());
  return c;
}

modax::Reading reading(const json::Value& value) {
  modax::Reading r;
  if (const json::Value* ts = value.find("ts")) r.ts_ms = ts->as_int();
  r.n_currents = fill(value.find("motor_currents"), r.currents_a, "motor_currents");
  r.n_temperatures = fill(value.find("temperatures"), r.temperatures_c, "temperatures");
  const json::Value& v = value.at("vibration");
  r.vibration.x = v.at("x").as_double();
  r.vibration.y = v.at("y").as_double();
  r.vibration.z = v.at("z").as_double();
  const json::Value* m = v.find("magnitude");
  r.vibration.magnitude =
      m != nullptr ? m->as_double() : modax::magnitude(r.vibration.x, r.vibration.y, r.vibration.z);
  return r;
}

std::vector<SafetyStep> run_safety(const json::Value& vector) {
  const json::Value* config = vector.find("config");
  modax::SafetyMonitor monitor(config != nullptr ? safety_config(*config) : modax::SafetyConfig());
  std::vector<SafetyStep> steps;
  for (const json::Value& item : vector.at("readings").items) {
    SafetyStep step;
    modax::SafetyEvent events[modax::kRuleCount];
    const std::size_t n = monitor.update(reading(item), events);
    step.events.assign(events, events + n);
    for (int r = 0; r < modax::kRuleCount; ++r) {
      step.flags[r] = monitor.active(static_cast<modax::Rule>(r));
    }
    steps.push_back(step);
  }
  return steps;
}

std::vector<std::string> check_safety(const json::Value& vector) {
  std::vector<std::string> problems;
  const std::vector<SafetyStep> steps = run_safety(vector);
  const json::Value& expected = vector.at("expected");
  if (expected.items.size() != steps.size()) {
    problems.push_back("expected has " + std::to_string(expected.items.size()) +
                       " entries for " + std::to_string(steps.size()) + " readings");
  }
  for (std::size_t i = 0; i < steps.size() && i < expected.items.size(); ++i) {
    for (int r = 0; r < modax::kRuleCount; ++r) {
      const char* name = modax::rule_name(static_cast<modax::Rule>(r));
      const json::Value* want = expected.items[i].find(name);
      if (want != nullptr && want->as_bool() != steps[i].flags[r]) {
        problems.push_back("reading " + std::to_string(i) + ": " + name + " is " +
                           (steps[i].flags[r] ? "true" : "false") + ", expected " +
                           (want->as_bool() ? "true" : "false"));
      }
    }
  }
  const json::Value* events = vector.find("events");
  if (events == nullptr) return problems;
  std::vector<std::pair<std::size_t, modax::SafetyEvent>> got;
  for (std::size_t i = 0; i < steps.size(); ++i) {
    for (const modax::SafetyEvent& e : steps[i].events) got.emplace_back(i, e);
  }
  if (got.size() != events->items.size()) {
    problems.push_back(std::to_string(got.size()) + " events, expected " +
                       std::to_string(events->items.size()));
  }
  for (std::size_t k = 0; k < got.size() && k < events->items.size(); ++k) {
    const json::Value& want = events->items[k];
    const modax::SafetyEvent& e = got[k].second;
    const std::string state = e.begin ? "begin" : "end";
    const std::string where = "event " + std::to_string(k) + ": ";
    if (std::size_t(want.at("index").as_int()) != got[k].first ||
        want.at("kind").as_string() != modax::rule_name(e.rule) ||
        want.at("state").as_string() != state) {
      problems.push_back(where + modax::rule_name(e.rule) + " " + state + " at reading " +
                         std::to_string(got[k].first) + ", expected " +
                         want.at("kind").as_string() + " " + want.at("state").as_string() +
                         " at reading " + std::to_string(want.at("index").as_int()));
      continue;
    }
    const json::Value* value = want.find("value");
    if (value != nullptr && !value->is_null() && !close(value->as_double(), e.value)) {
      problems.push_back(where + "value " + describe(e.value) + ", expected " + value->text);
    }
    const json::Value* threshold = want.find("threshold");
    if (threshold != nullptr && !threshold->is_null() &&
        !close(threshold->as_double(), e.threshold)) {
      problems.push_back(where + "threshold " + describe(e.threshold) + ", expected " +
                         threshold->text);
    }
  }
  return problems;
}

std::vector<Built> build_payloads(const json::Value& vector) {
  const std::string& device_id = vector.at("device_id").as_string();
  std::vector<Built> out;
  for (const json::Value& message : vector.at("messages").items) {
    out.push_back(build_one(device_id, message));
  }
  return out;
}

std::vector<std::string> check_payloads(const json::Value& vector) {
  std::vector<std::string> problems;
  const std::vector<Built> built = build_payloads(vector);
  const json::Value& messages = vector.at("messages");
  for (std::size_t i = 0; i < built.size(); ++i) {
    const json::Value& want = messages.items[i].at("expected");
    const std::string where = "message " + std::to_string(i) + ": ";
    if (const json::Value* error = want.find("error")) {
      if (built[i].error != error->as_string()) {
        problems.push_back(where + "error \"" + built[i].error + "\", expected \"" +
                           error->as_string() + "\"");
      }
      continue;
    }
    if (!built[i].error.empty()) {
      problems.push_back(where + "refused: " + built[i].error);
      continue;
    }
    if (built[i].topic != want.at("topic").as_string()) {
      problems.push_back(where + "topic " + built[i].topic + ", expected " +
                         want.at("topic").as_string());
    }
    if (built[i].payload != want.at("payload").as_string()) {
      problems.push_back(where + "payload\n    " + built[i].payload + "\n  expected\n    " +
                         want.at("payload").as_string());
    }
  }
  return problems;
}

std::vector<Answered> run_commands(const json::Value& vector) {
  const std::string device_id = vector.at("device_id").as_string();
  std::vector<Answered> answers;
  modax::DeviceSettings settings;
  const std::vector<json::Value>& commands = vector.at("commands").items;
  for (std::size_t i = 0; i < commands.size(); ++i) {
    const std::string& payload = commands[i].at("payload").as_string();
    const modax::CommandResult result =
        modax::apply_command(payload.data(), payload.size(), device_id.c_str(), &settings);
    char ack[256];
    const std::size_t n = modax::build_command_ack(ack, sizeof ack, device_id.c_str(), result,
                                                   1700000000000LL + static_cast<long long>(i));
    answers.push_back({std::string(ack, n), settings});
  }
  return answers;
}

std::vector<std::string> check_commands(const json::Value& vector) {
  std::vector<std::string> problems;
  const std::vector<Answered> answers = run_commands(vector);
  const std::vector<json::Value>& commands = vector.at("commands").items;
  for (std::size_t i = 0; i < answers.size(); ++i) {
    const json::Value& want = commands[i].at("expected");
    const std::string where = "command " + std::to_string(i) + ": ";
    if (answers[i].ack != want.at("ack").as_string()) {
      problems.push_back(where + "ack\n    " + answers[i].ack + "\n  expected\n    " +
                         want.at("ack").as_string());
    }
    const modax::DeviceSettings& s = answers[i].settings;
    if (s.sample_rate_hz != want.at("sample_rate_hz").as_double() ||
        s.safety.overload_current_a != want.at("overload_current_a").as_double() ||
        s.safety.max_temperature_c != want.at("max_temperature_c").as_double()) {
      problems.push_back(where + "settings differ from the expected ones");
    }
  }
  return problems;
}

std::vector<std::string> list(const std::string& directory, const std::string& prefix) {
  std::vector<std::string> files;
  DIR* dir = opendir(directory.c_str());
  if (dir == nullptr) return files;
  while (const dirent* entry = readdir(dir)) {
    const std::string name = entry->d_name;
    if (name.rfind(prefix, 0) == 0 && name.size() > 5 &&
        name.compare(name.size() - 5, 5, ".json") == 0) {
      files.push_back(directory + "/" + name);
    }
  }
  closedir(dir);
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace vectors
