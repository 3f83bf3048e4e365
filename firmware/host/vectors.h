// Runs the shared vectors (firmware/vectors/*.json) through the C++ core.
//
//  * safety_*.json  (docs/safety-rules.md): readings → flags after each reading + events;
//  * payload_*.json (firmware/README.md): inputs → the exact topic and payload the device sends.
//  * command_*.json: command payloads → the exact ack and the device's settings after each.
#pragma once

#include <string>
#include <vector>

#include "json_reader.h"
#include "modax_core.h"

namespace vectors {

modax::SafetyConfig safety_config(const json::Value& config);
modax::Reading reading(const json::Value& reading);

/// The core's answer for one reading of a safety vector.
struct SafetyStep {
  bool flags[modax::kRuleCount];
  std::vector<modax::SafetyEvent> events;
};

/// Feeds every reading of a safety vector to a fresh SafetyMonitor.
std::vector<SafetyStep> run_safety(const json::Value& vector);

/// Every way the core disagrees with a safety vector's "expected" and "events" (empty: agrees).
std::vector<std::string> check_safety(const json::Value& vector);

/// What the core builds for one message of a payload vector.
struct Built {
  std::string topic;
  std::string payload;
  std::string error;  ///< "reason:field" when the core refused to build it
};

std::vector<Built> build_payloads(const json::Value& vector);

/// Every way the core disagrees with a payload vector's expectations (empty: agrees).
std::vector<std::string> check_payloads(const json::Value& vector);

/// What the core answers to one command of a command vector, and the settings after it.
struct Answered {
  std::string ack;
  modax::DeviceSettings settings;
};

/// Applies every command of a command vector, in order, to one device's settings.
std::vector<Answered> run_commands(const json::Value& vector);

/// Every way the core disagrees with a command vector's expectations (empty: agrees).
std::vector<std::string> check_commands(const json::Value& vector);

/// The JSON files in `directory` whose names start with `prefix`, sorted.
std::vector<std::string> list(const std::string& directory, const std::string& prefix);

}  // namespace vectors
