#include "modax/payload.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "modax/limits.h"

namespace modax {

namespace {

const char* const kErrorNames[] = {
    "none",         "invalid_device_id", "bad_length",       "non_finite",
    "out_of_range", "negative_value",    "buffer_too_small",
};

/// Appends JSON text to a fixed buffer; the first failure sticks.
class JsonWriter {
 public:
  JsonWriter(char* out, std::size_t capacity) : out_(out), capacity_(capacity) {
    if (capacity_ > 0) out_[0] = '\0';
  }

  void raw(const char* text) { append(text, std::strlen(text)); }

  void key(const char* name) {
    separator();
    raw("\"");
    raw(name);
    raw("\":");
    after_key_ = true;
  }

  void begin(char bracket) {
    separator();
    append(&bracket, 1);
    first_ = true;
  }

  void end(char bracket) {
    append(&bracket, 1);
    first_ = false;
  }

  void boolean(bool value) {
    separator();
    raw(value ? "true" : "false");
  }

  void integer(std::int64_t value) {
    separator();
    char digits[24];
    int n = 0;
    std::uint64_t magnitude = value < 0 ? 0 - static_cast<std::uint64_t>(value)
                                        : static_cast<std::uint64_t>(value);
    do {
      digits[n++] = static_cast<char>('0' + magnitude % 10);
      magnitude /= 10;
    } while (magnitude > 0);
    if (value < 0) digits[n++] = '-';
    while (n > 0) append(&digits[--n], 1);
  }

  /// A finite number; the caller has checked finiteness.
  void number(double value) {
    separator();
    char text[32];
    const std::size_t n = format_double(text, sizeof text, value);
    if (n == 0) {
      overflow_ = true;
      return;
    }
    append(text, n);
  }

  void string(const char* value) {
    separator();
    raw("\"");
    for (const char* c = value; *c; ++c) {
      const unsigned char ch = static_cast<unsigned char>(*c);
      if (ch == '"' || ch == '\\') {
        const char escaped[2] = {'\\', static_cast<char>(ch)};
        append(escaped, 2);
      } else if (ch < 0x20) {
        char escaped[8];
        std::snprintf(escaped, sizeof escaped, "\\u%04x", ch);
        append(escaped, 6);
      } else {
        append(c, 1);
      }
    }
    raw("\"");
  }

  bool overflow() const { return overflow_; }
  std::size_t length() const { return length_; }

 private:
  void separator() {
    if (after_key_) {
      after_key_ = false;
      first_ = false;
      return;
    }
    if (!first_) raw(",");
    first_ = false;
  }

  void append(const char* text, std::size_t n) {
    if (overflow_ || length_ + n + 1 > capacity_) {
      overflow_ = true;
      return;
    }
    std::memcpy(out_ + length_, text, n);
    length_ += n;
    out_[length_] = '\0';
  }

  char* out_;
  std::size_t capacity_;
  std::size_t length_ = 0;
  bool first_ = true;
  bool after_key_ = false;
  bool overflow_ = false;
};

PayloadResult failure(PayloadError error, const char* field) {
  PayloadResult result;
  result.error = error;
  std::snprintf(result.field, sizeof result.field, "%s", field);
  return result;
}

PayloadResult check_value(const char* name, int index, double value, double low, double high) {
  PayloadResult result;
  if (std::isfinite(value) && low <= value && value <= high) return result;
  result.error = std::isfinite(value) ? PayloadError::kOutOfRange : PayloadError::kNonFinite;
  if (index >= 0) {
    std::snprintf(result.field, sizeof result.field, "%s[%d]", name, index);
  } else {
    std::snprintf(result.field, sizeof result.field, "%s", name);
  }
  return result;
}

PayloadResult check_reading(const Reading& r) {
  if (r.n_currents < 1 || r.n_currents > kMaxChannels) {
    return failure(PayloadError::kBadLength, "motor_currents");
  }
  if (r.n_temperatures < 1 || r.n_temperatures > kMaxChannels) {
    return failure(PayloadError::kBadLength, "temperatures");
  }
  for (int i = 0; i < r.n_currents; ++i) {
    PayloadResult c = check_value("motor_currents", i, r.currents_a[i], -kCurrentLimitA,
                                  kCurrentLimitA);
    if (!c.ok()) return c;
  }
  const Vibration& v = r.vibration;
  const double axes[3] = {v.x, v.y, v.z};
  const char* const names[3] = {"vibration.x", "vibration.y", "vibration.z"};
  for (int i = 0; i < 3; ++i) {
    PayloadResult c = check_value(names[i], -1, axes[i], -kVibrationLimitMs2, kVibrationLimitMs2);
    if (!c.ok()) return c;
  }
  PayloadResult m = check_value("vibration.magnitude", -1, v.magnitude, 0.0,
                                2 * kVibrationLimitMs2);
  if (!m.ok()) return m;
  for (int i = 0; i < r.n_temperatures; ++i) {
    PayloadResult c = check_value("temperatures", i, r.temperatures_c[i], kTemperatureMinC,
                                  kTemperatureMaxC);
    if (!c.ok()) return c;
  }
  return PayloadResult();
}

PayloadResult check_header(const char* device_id, std::int64_t timestamp_ms, std::int64_t seq) {
  if (!valid_device_id(device_id)) return failure(PayloadError::kInvalidDeviceId, "device_id");
  if (timestamp_ms < 0) return failure(PayloadError::kNegative, "timestamp");
  if (seq < 0) return failure(PayloadError::kNegative, "seq");
  return PayloadResult();
}

PayloadResult finish(const JsonWriter& w) {
  PayloadResult result;
  if (w.overflow()) {
    result.error = PayloadError::kBufferTooSmall;
    return result;
  }
  result.length = w.length();
  return result;
}

}  // namespace

const char* payload_error_name(PayloadError error) {
  return kErrorNames[static_cast<int>(error)];
}

bool valid_device_id(const char* device_id) {
  if (device_id == nullptr) return false;
  std::size_t n = 0;
  for (const char* c = device_id; *c; ++c, ++n) {
    const char ch = *c;
    const bool ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
                    (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == '-';
    if (!ok || n >= kMaxDeviceIdLength) return false;
  }
  return n > 0;
}

std::size_t topic_for(char* out, std::size_t capacity, const char* device_id, const char* kind) {
  const int n = std::snprintf(out, capacity, "modax/devices/%s/%s", device_id, kind);
  if (n < 0 || static_cast<std::size_t>(n) >= capacity) return 0;
  return static_cast<std::size_t>(n);
}

std::size_t format_double(char* out, std::size_t capacity, double value) {
  if (!std::isfinite(value)) return 0;
  if (value == 0.0) value = 0.0;  // no "-0"
  // Fewest significant digits that read back as `value`; then, for magnitudes from 1 to 10¹⁷,
  // as many more as it takes to avoid an exponent ("10", not "1e+01").
  const double size = std::fabs(value);
  for (int precision = 1; precision <= 17; ++precision) {
    const int n = std::snprintf(out, capacity, "%.*g", precision, value);
    if (n < 0 || static_cast<std::size_t>(n) >= capacity) return 0;
    const bool exact = precision == 17 || std::strtod(out, nullptr) == value;
    const bool plain = size < 1.0 || size >= 1e17 || std::strchr(out, 'e') == nullptr;
    if (exact && plain) return static_cast<std::size_t>(n);
  }
  return 0;
}

PayloadResult build_telemetry(char* out, std::size_t capacity, const char* device_id,
                              std::int64_t timestamp_ms, std::int64_t seq,
                              const Reading& reading) {
  PayloadResult header = check_header(device_id, timestamp_ms, seq);
  if (!header.ok()) return header;
  PayloadResult values = check_reading(reading);
  if (!values.ok()) return values;

  JsonWriter w(out, capacity);
  w.begin('{');
  w.key("timestamp");
  w.integer(timestamp_ms);
  w.key("device_id");
  w.string(device_id);
  w.key("motor_currents");
  w.begin('[');
  for (int i = 0; i < reading.n_currents; ++i) w.number(reading.currents_a[i]);
  w.end(']');
  w.key("vibration");
  w.begin('{');
  w.key("x");
  w.number(reading.vibration.x);
  w.key("y");
  w.number(reading.vibration.y);
  w.key("z");
  w.number(reading.vibration.z);
  w.key("magnitude");
  w.number(reading.vibration.magnitude);
  w.end('}');
  w.key("temperatures");
  w.begin('[');
  for (int i = 0; i < reading.n_temperatures; ++i) w.number(reading.temperatures_c[i]);
  w.end(']');
  w.key("seq");
  w.integer(seq);
  w.end('}');
  return finish(w);
}

PayloadResult build_safety(char* out, std::size_t capacity, const char* device_id,
                           std::int64_t timestamp_ms, std::int64_t seq,
                           const DeviceSafety& state) {
  PayloadResult header = check_header(device_id, timestamp_ms, seq);
  if (!header.ok()) return header;
  JsonWriter w(out, capacity);
  w.begin('{');
  w.key("timestamp");
  w.integer(timestamp_ms);
  w.key("device_id");
  w.string(device_id);
  w.key("emergency_stop");
  w.boolean(state.emergency_stop);
  w.key("door_closed");
  w.boolean(state.door_closed);
  w.key("overload_detected");
  w.boolean(state.overload_detected);
  w.key("temperature_ok");
  w.boolean(state.temperature_ok);
  w.key("seq");
  w.integer(seq);
  w.end('}');
  return finish(w);
}

PayloadResult build_status(char* out, std::size_t capacity, const char* device_id, bool online,
                           const StatusInfo& info) {
  if (!valid_device_id(device_id)) return failure(PayloadError::kInvalidDeviceId, "device_id");
  JsonWriter w(out, capacity);
  w.begin('{');
  w.key("device_id");
  w.string(device_id);
  w.key("online");
  w.boolean(online);
  if (info.timestamp_ms >= 0) {
    w.key("timestamp");
    w.integer(info.timestamp_ms);
  }
  if (info.firmware_version != nullptr) {
    w.key("firmware_version");
    w.string(info.firmware_version);
  }
  if (info.uptime_ms >= 0) {
    w.key("uptime_ms");
    w.integer(info.uptime_ms);
  }
  w.end('}');
  return finish(w);
}

}  // namespace modax
