// MQTT topics and JSON payloads exactly as modax.schema accepts them.
//
// Every number is written so that parsing it gives back the very same double (shortest
// round-trip form), and nothing non-finite is ever written: a value the contract would reject
// is refused here, with the field it names, instead of being published.
#pragma once

#include <cstddef>
#include <cstdint>

#include "modax/device_safety.h"
#include "modax/reading.h"

namespace modax {

/// Why a payload was not built; the names match modax.schema.Reason where one exists.
enum class PayloadError : std::uint8_t {
  kNone,
  kInvalidDeviceId,    ///< "invalid_device_id"
  kBadLength,          ///< "bad_length": not 1..4 currents / temperatures
  kNonFinite,          ///< "non_finite": NaN or ±inf
  kOutOfRange,         ///< "out_of_range": beyond the sensor range of the contract
  kNegative,           ///< "negative_value": a timestamp, seq or uptime below 0
  kBufferTooSmall,     ///< "buffer_too_small"
};

const char* payload_error_name(PayloadError error);

/// The outcome of a build: the payload's length, or the error and the field it concerns.
struct PayloadResult {
  PayloadError error = PayloadError::kNone;
  std::size_t length = 0;
  char field[24] = {0};  ///< e.g. "motor_currents[1]", empty when not about one field
  bool ok() const { return error == PayloadError::kNone; }
};

/// Whether `device_id` matches ^[A-Za-z0-9_.-]{1,64}$.
bool valid_device_id(const char* device_id);

/// Writes "modax/devices/<device_id>/<kind>" (NUL-terminated); returns its length, or 0 when
/// it does not fit in `capacity`.
std::size_t topic_for(char* out, std::size_t capacity, const char* device_id, const char* kind);

/// Telemetry: {"timestamp","device_id","motor_currents","vibration","temperatures","seq"}.
///
/// Example:
///   char buf[512];
///   modax::PayloadResult r = modax::build_telemetry(buf, sizeof buf, "m1", ts, seq, reading);
///   if (r.ok()) publish(topic, buf, r.length);
PayloadResult build_telemetry(char* out, std::size_t capacity, const char* device_id,
                              std::int64_t timestamp_ms, std::int64_t seq,
                              const Reading& reading);

/// Safety: {"timestamp","device_id","emergency_stop","door_closed","overload_detected",
/// "temperature_ok","seq"}.
PayloadResult build_safety(char* out, std::size_t capacity, const char* device_id,
                           std::int64_t timestamp_ms, std::int64_t seq,
                           const DeviceSafety& state);

/// Optional fields of a status message; negative numbers and nullptr leave a field out.
struct StatusInfo {
  std::int64_t timestamp_ms = -1;
  const char* firmware_version = nullptr;
  std::int64_t uptime_ms = -1;
};

/// Status: {"device_id","online"[,"timestamp"][,"firmware_version"][,"uptime_ms"]}.
/// The offline form with no extras is the device's MQTT last will.
PayloadResult build_status(char* out, std::size_t capacity, const char* device_id, bool online,
                           const StatusInfo& info = StatusInfo());

/// Writes `value` in the shortest form that parses back to the same double ("4.2", "-0.5",
/// "10"); returns the length, or 0 when `value` is not finite or does not fit.
std::size_t format_double(char* out, std::size_t capacity, double value);

}  // namespace modax
