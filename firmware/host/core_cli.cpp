// modax_core_cli: lets Python drive the C++ core (tests/test_firmware.py).
//
//   modax_core_cli limits            constants and defaults, one JSON object
//   modax_core_cli safety FILE       a safety vector's readings → one JSON line per reading
//   modax_core_cli payloads FILE     a payload vector's messages → one JSON line per message
//   modax_core_cli commands FILE     a command vector's commands → one JSON line per command
#include <cstdio>
#include <cstring>
#include <string>

#include "vectors.h"

namespace {

std::string quote(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
      out += escaped;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string number(double value) {
  char text[32];
  const std::size_t n = modax::format_double(text, sizeof text, value);
  return n == 0 ? "null" : std::string(text, n);
}

int limits() {
  const modax::SafetyConfig c;
  std::printf(
      "{\"max_channels\":%d,\"current_limit_a\":%s,\"temperature_range_c\":[%s,%s],"
      "\"vibration_limit_ms2\":%s,\"max_payload_bytes\":%zu,\"epoch_ms_threshold\":%lld,"
      "\"max_device_id_length\":%zu,\"decimals\":{\"current\":%d,\"temperature\":%d,"
      "\"vibration\":%d},\"safety_defaults\":{\"overload_current_a\":%s,"
      "\"max_temperature_c\":%s,\"temp_rise_c_per_s\":%s,\"temp_rise_window_ms\":%lld,"
      "\"imbalance_ratio\":%s,\"imbalance_min_current_a\":%s,\"stuck_samples\":%d},"
      "\"sample_rate_range_hz\":[%s,%s],\"max_command_id_length\":%zu}\n",
      modax::kMaxChannels, number(modax::kCurrentLimitA).c_str(),
      number(modax::kTemperatureMinC).c_str(), number(modax::kTemperatureMaxC).c_str(),
      number(modax::kVibrationLimitMs2).c_str(), modax::kMaxPayloadBytes,
      static_cast<long long>(modax::kEpochMsThreshold), modax::kMaxDeviceIdLength,
      modax::kCurrentDecimals, modax::kTemperatureDecimals, modax::kVibrationDecimals,
      number(c.overload_current_a).c_str(), number(c.max_temperature_c).c_str(),
      number(c.temp_rise_c_per_s).c_str(), static_cast<long long>(c.temp_rise_window_ms),
      number(c.imbalance_ratio).c_str(), number(c.imbalance_min_current_a).c_str(),
      c.stuck_samples, number(modax::kSampleRateMinHz).c_str(),
      number(modax::kSampleRateMaxHz).c_str(), modax::kMaxCommandIdLength);
  return 0;
}

int safety(const json::Value& vector) {
  const std::vector<vectors::SafetyStep> steps = vectors::run_safety(vector);
  for (std::size_t i = 0; i < steps.size(); ++i) {
    std::string line = "{\"index\":" + std::to_string(i) + ",\"flags\":{";
    for (int r = 0; r < modax::kRuleCount; ++r) {
      line += std::string(r ? "," : "") + quote(modax::rule_name(static_cast<modax::Rule>(r))) +
              ":" + (steps[i].flags[r] ? "true" : "false");
    }
    line += "},\"events\":[";
    for (std::size_t k = 0; k < steps[i].events.size(); ++k) {
      const modax::SafetyEvent& e = steps[i].events[k];
      line += std::string(k ? "," : "") + "{\"kind\":" + quote(modax::rule_name(e.rule)) +
              ",\"state\":" + (e.begin ? "\"begin\"" : "\"end\"") +
              ",\"value\":" + number(e.value) + ",\"threshold\":" + number(e.threshold) + "}";
    }
    std::printf("%s]}\n", line.c_str());
  }
  return 0;
}

int payloads(const json::Value& vector) {
  for (const vectors::Built& b : vectors::build_payloads(vector)) {
    std::printf("{\"topic\":%s,\"payload\":%s,\"error\":%s}\n", quote(b.topic).c_str(),
                quote(b.payload).c_str(), b.error.empty() ? "null" : quote(b.error).c_str());
  }
  return 0;
}

int commands(const json::Value& vector) {
  for (const vectors::Answered& a : vectors::run_commands(vector)) {
    std::printf("{\"ack\":%s,\"sample_rate_hz\":%s,\"overload_current_a\":%s,"
                "\"max_temperature_c\":%s}\n",
                a.ack.c_str(), number(a.settings.sample_rate_hz).c_str(),
                number(a.settings.safety.overload_current_a).c_str(),
                number(a.settings.safety.max_temperature_c).c_str());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc == 2 && std::strcmp(argv[1], "limits") == 0) return limits();
    if (argc == 3 && std::strcmp(argv[1], "safety") == 0) {
      return safety(json::parse_file(argv[2]));
    }
    if (argc == 3 && std::strcmp(argv[1], "payloads") == 0) {
      return payloads(json::parse_file(argv[2]));
    }
    if (argc == 3 && std::strcmp(argv[1], "commands") == 0) {
      return commands(json::parse_file(argv[2]));
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "modax_core_cli: %s\n", e.what());
    return 1;
  }
  std::fprintf(stderr,
               "usage: modax_core_cli limits | safety FILE | payloads FILE | commands FILE\n");
  return 2;
}
