// Commands a field device honours, and their acknowledgements (modax.schema._commands).
//
// A device subscribes to modax/devices/<id>/command and answers every message on
// modax/devices/<id>/command/ack. It honours set_sample_rate and set_thresholds; the twin-only
// commands (inject_fault, set_load, set_motor, reboot) are refused as "unsupported_command".
// Reasons and fields are those modax.schema.decode_command gives for the same payload
// (tests/test_firmware.py holds the two to every case in firmware/vectors/command_*.json), and
// the ranges are modax.schema's: kSampleRate*Hz here, the sensor limits of limits.h.
#pragma once

#include <cstddef>
#include <cstdint>

#include "modax/safety.h"

namespace modax {

/// Telemetry rates a command may set, in Hz (inclusive): modax.schema.SAMPLE_RATE_RANGE_HZ.
constexpr double kSampleRateMinHz = 0.1;
constexpr double kSampleRateMaxHz = 10.0;
/// Longest command id (pattern ^[A-Za-z0-9_.:-]{1,64}$).
constexpr std::size_t kMaxCommandIdLength = 64;

/// What a command may change on a device.
struct DeviceSettings {
  double sample_rate_hz = 10.0;  ///< telemetry rate, Hz
  SafetyConfig safety;           ///< the safety rules' thresholds
};

/// The verdict on one command: accepted, or the reason (a modax.schema.Reason value) and field.
struct CommandResult {
  bool accepted = false;
  const char* reason = "";             ///< e.g. "out_of_range"; empty when accepted
  const char* field = "";              ///< e.g. "rate_hz"; empty when not about one field
  char type[24] = {0};                 ///< the command's type when it is one of the contract
  char command_id[kMaxCommandIdLength + 1] = {0};  ///< the id when it matches the pattern
};

/// Parses `payload` (JSON) received on the command topic of `device_id`, and when it is valid
/// and one the device honours, applies it to `settings` (nothing changes otherwise).
///
/// Example:
///   modax::CommandResult r = modax::apply_command(payload, n, "m1", &settings);
///   char ack[256];
///   std::size_t len = modax::build_command_ack(ack, sizeof ack, "m1", r, now_ms);
///   if (len) publish(ack_topic, ack, len);
CommandResult apply_command(const char* payload, std::size_t length, const char* device_id,
                            DeviceSettings* settings);

/// The ack JSON: {"device_id","command_id","type","accepted","timestamp"[,"reason","field"]}
/// (command_id and type null when unreadable); returns its length, 0 when it does not fit.
std::size_t build_command_ack(char* out, std::size_t capacity, const char* device_id,
                              const CommandResult& result, std::int64_t timestamp_ms);

}  // namespace modax
