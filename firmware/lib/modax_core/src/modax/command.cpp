#include "modax/command.h"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "modax/limits.h"
#include "modax/payload.h"

namespace modax {

namespace {

/// The contract's command types; the first two are what a device honours.
const char* const kTypes[] = {"set_sample_rate", "set_thresholds", "inject_fault",
                              "set_load",        "set_motor",      "reboot"};
constexpr int kTypeCount = 6;
constexpr int kDeviceTypes = 2;
constexpr int kMaxNesting = 8;  // modax.schema.MAX_NESTING

/// The fields a device reads.
enum Field { kType, kDeviceId, kCommandId, kRateHz, kOverload, kMaxTemperature, kFieldCount };
const char* const kFieldNames[] = {"type",    "device_id",          "command_id",
                                   "rate_hz", "overload_current_a", "max_temperature_c"};

enum class Json : std::uint8_t { kString, kNumber, kBool, kNull, kContainer };

struct Slot {
  bool present = false;
  int order = 0;  ///< position in the object, to report the first bad field as msgspec does
  Json kind = Json::kNull;
  double number = 0.0;
  char text[kMaxDeviceIdLength + 2] = {0};  ///< truncated: one character more than any valid
};

/// Deepest nesting of arrays and objects, brackets inside strings not counted.
int nesting(const char* p, const char* end) {
  int depth = 0;
  int deepest = 0;
  bool in_string = false;
  for (; p < end; ++p) {
    if (in_string) {
      if (*p == '\\') {
        ++p;
      } else if (*p == '"') {
        in_string = false;
      }
    } else if (*p == '"') {
      in_string = true;
    } else if (*p == '[' || *p == '{') {
      if (++depth > deepest) deepest = depth;
    } else if (*p == ']' || *p == '}') {
      --depth;
    }
  }
  return deepest;
}

/// A strict JSON reader over one flat object; the first syntax error sticks.
class Reader {
 public:
  Reader(const char* p, const char* end) : p_(p), end_(end) {}

  bool failed() const { return failed_; }

  void space() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\t' || *p_ == '\n' || *p_ == '\r')) ++p_;
  }

  bool at(char c) {
    space();
    return p_ < end_ && *p_ == c;
  }

  bool eat(char c) {
    if (!at(c)) return fail();
    ++p_;
    return true;
  }

  bool done() {
    space();
    return p_ == end_;
  }

  /// A string into `out` (truncated to capacity − 1, NUL-terminated).
  bool string(char* out, std::size_t capacity) {
    if (!eat('"')) return false;
    std::size_t n = 0;
    while (p_ < end_ && *p_ != '"') {
      char c = *p_++;
      if (static_cast<unsigned char>(c) < 0x20) return fail();
      if (c == '\\') {
        if (p_ >= end_) return fail();
        const char e = *p_++;
        if (e == 'u') {
          for (int i = 0; i < 4; ++i) {
            if (p_ >= end_ || !std::isxdigit(static_cast<unsigned char>(*p_++))) return fail();
          }
          c = '?';  // never a valid id character: a \u escape makes an id invalid
        } else {
          const char* from = "\"\\/bfnrt";
          const char* to = "\"\\/\b\f\n\r\t";
          const char* hit = std::strchr(from, e);
          if (hit == nullptr || e == '\0') return fail();
          c = to[hit - from];
        }
      }
      if (n + 1 < capacity) out[n++] = c;
    }
    if (capacity > 0) out[n] = '\0';
    return eat('"');
  }

  /// Any value; fills `slot` with its kind and, for numbers and strings, its value.
  bool value(Slot* slot, int depth) {
    space();
    if (p_ >= end_) return fail();
    const char c = *p_;
    if (c == '"') {
      slot->kind = Json::kString;
      return string(slot->text, sizeof slot->text);
    }
    if (c == '{' || c == '[') {
      slot->kind = Json::kContainer;
      return container(depth + 1);
    }
    if (literal("true") || literal("false")) {
      slot->kind = Json::kBool;
      return true;
    }
    if (literal("null")) {
      slot->kind = Json::kNull;
      return true;
    }
    slot->kind = Json::kNumber;
    return number(&slot->number);
  }

 private:
  bool fail() {
    failed_ = true;
    return false;
  }

  bool literal(const char* word) {
    const std::size_t n = std::strlen(word);
    if (static_cast<std::size_t>(end_ - p_) < n || std::strncmp(p_, word, n) != 0) return false;
    p_ += n;
    return true;
  }

  bool digits() {
    const char* start = p_;
    while (p_ < end_ && *p_ >= '0' && *p_ <= '9') ++p_;
    return p_ > start;
  }

  /// A JSON number (its grammar checked here, its value by strtod).
  bool number(double* out) {
    const char* start = p_;
    if (p_ < end_ && *p_ == '-') ++p_;
    if (p_ < end_ && *p_ == '0') {
      ++p_;
    } else if (!digits()) {
      return fail();
    }
    if (p_ < end_ && *p_ == '.') {
      ++p_;
      if (!digits()) return fail();
    }
    if (p_ < end_ && (*p_ == 'e' || *p_ == 'E')) {
      ++p_;
      if (p_ < end_ && (*p_ == '+' || *p_ == '-')) ++p_;
      if (!digits()) return fail();
    }
    char text[64];
    const std::size_t n = static_cast<std::size_t>(p_ - start);
    if (n >= sizeof text) {
      *out = HUGE_VAL;  // more digits than any value of the contract: out of range
      return true;
    }
    std::memcpy(text, start, n);
    text[n] = '\0';
    *out = std::strtod(text, nullptr);
    return true;
  }

  bool container(int depth) {
    const char close = *p_ == '{' ? '}' : ']';
    const bool object = close == '}';
    ++p_;
    if (at(close)) {
      ++p_;
      return true;
    }
    for (;;) {
      Slot ignored;
      if (object) {
        char key[2];
        if (!string(key, sizeof key) || !eat(':')) return false;
      }
      if (!value(&ignored, depth)) return false;
      if (at(',')) {
        ++p_;
        continue;
      }
      return eat(close);
    }
  }

  const char* p_;
  const char* end_;
  bool failed_ = false;
};

bool id_char(char c, bool command) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-' ||
         (command && c == ':');
}

bool valid_command_id(const char* id) {
  const std::size_t n = std::strlen(id);
  if (n == 0 || n > kMaxCommandIdLength) return false;
  for (std::size_t i = 0; i < n; ++i) {
    if (!id_char(id[i], true)) return false;
  }
  return true;
}

CommandResult reject(CommandResult result, const char* reason, const char* field) {
  result.accepted = false;
  result.reason = reason;
  result.field = field;
  return result;
}

/// The first field (in document order) of those `wanted` whose JSON kind does not fit:
/// strings for ids and type, numbers (or null when `nullable`) for values.
int badly_typed(const Slot* slots, const bool* wanted, bool nullable, const char** reason) {
  int first = -1;
  for (int f = 0; f < kFieldCount; ++f) {
    const Slot& s = slots[f];
    if (!wanted[f] || !s.present) continue;
    const bool text = f <= kCommandId;
    bool bad;
    const char* why = "wrong_type";
    if (text) {
      bad = s.kind != Json::kString;
    } else if (s.kind == Json::kNumber) {
      bad = !std::isfinite(s.number);
      why = "non_finite";
    } else {
      bad = !(nullable && s.kind == Json::kNull);
    }
    if (bad && (first < 0 || s.order < slots[first].order)) {
      first = f;
      *reason = why;
    }
  }
  return first;
}

bool given(const Slot& slot) { return slot.present && slot.kind == Json::kNumber; }

}  // namespace

CommandResult apply_command(const char* payload, std::size_t length, const char* device_id,
                            DeviceSettings* settings) {
  CommandResult result;
  if (length == 0) return reject(result, "empty_payload", "");
  if (length > kMaxPayloadBytes) return reject(result, "oversized", "");
  const char* end = payload + length;
  if (nesting(payload, end) > kMaxNesting) return reject(result, "too_deep", "");
  Reader reader(payload, end);
  if (!reader.at('{')) {
    Slot ignored;
    return reject(result, reader.value(&ignored, 0) ? "not_object" : "not_json", "");
  }
  Slot slots[kFieldCount];
  reader.eat('{');
  int order = 0;
  if (reader.at('}')) {
    reader.eat('}');
  } else {
    for (;;) {
      char key[24];
      if (!reader.string(key, sizeof key) || !reader.eat(':')) break;
      Slot parsed;
      if (!reader.value(&parsed, 1)) break;
      for (int f = 0; f < kFieldCount; ++f) {
        if (std::strcmp(key, kFieldNames[f]) == 0) {
          slots[f] = parsed;
          slots[f].present = true;
          slots[f].order = order;
        }
      }
      ++order;
      if (reader.at(',')) {
        reader.eat(',');
        continue;
      }
      reader.eat('}');
      break;
    }
  }
  if (reader.failed() || !reader.done()) return reject(result, "not_json", "");

  if (slots[kCommandId].kind == Json::kString && valid_command_id(slots[kCommandId].text)) {
    std::strcpy(result.command_id, slots[kCommandId].text);
  }
  const Slot& type = slots[kType];
  if (!type.present) return reject(result, "missing_field", "type");
  if (type.kind != Json::kString) return reject(result, "wrong_type", "type");
  int t = 0;
  while (t < kTypeCount && std::strcmp(type.text, kTypes[t]) != 0) ++t;
  if (t == kTypeCount) return reject(result, "unknown_command", "type");
  std::strcpy(result.type, kTypes[t]);
  if (t >= kDeviceTypes) return reject(result, "unsupported_command", "type");

  const bool sample_rate = t == 0;
  bool wanted[kFieldCount] = {false, true, true, sample_rate, !sample_rate, !sample_rate};
  const char* why = "";
  const int bad = badly_typed(slots, wanted, !sample_rate, &why);
  if (bad >= 0) return reject(result, why, kFieldNames[bad]);
  // msgspec reports the first missing field in the struct's order: its own fields, then the
  // common device_id and command_id.
  const int required[] = {kRateHz, kDeviceId, kCommandId};
  for (int r = sample_rate ? 0 : 1; r < 3; ++r) {
    const int f = required[r];
    if (!slots[f].present) return reject(result, "missing_field", kFieldNames[f]);
  }
  if (!valid_device_id(slots[kDeviceId].text)) {
    return reject(result, "invalid_device_id", "device_id");
  }
  if (std::strcmp(slots[kDeviceId].text, device_id) != 0) {
    return reject(result, "device_id_mismatch", "device_id");
  }
  if (!valid_command_id(slots[kCommandId].text)) {
    return reject(result, "out_of_range", "command_id");
  }

  if (sample_rate) {
    const double rate = slots[kRateHz].number;
    if (!(rate >= kSampleRateMinHz && rate <= kSampleRateMaxHz)) {
      return reject(result, "out_of_range", "rate_hz");
    }
    settings->sample_rate_hz = rate;
  } else {
    const Slot& overload = slots[kOverload];
    const Slot& temperature = slots[kMaxTemperature];
    if (!given(overload) && !given(temperature)) {
      return reject(result, "missing_field", "overload_current_a");
    }
    if (given(overload) && !(overload.number > 0.0 && overload.number <= kCurrentLimitA)) {
      return reject(result, "out_of_range", "overload_current_a");
    }
    if (given(temperature) &&
        !(temperature.number >= kTemperatureMinC && temperature.number <= kTemperatureMaxC)) {
      return reject(result, "out_of_range", "max_temperature_c");
    }
    if (given(overload)) settings->safety.overload_current_a = overload.number;
    if (given(temperature)) settings->safety.max_temperature_c = temperature.number;
  }
  result.accepted = true;
  return result;
}

std::size_t build_command_ack(char* out, std::size_t capacity, const char* device_id,
                              const CommandResult& result, std::int64_t timestamp_ms) {
  char id[kMaxCommandIdLength + 3] = "null";
  if (result.command_id[0] != '\0') std::snprintf(id, sizeof id, "\"%s\"", result.command_id);
  char type[sizeof result.type + 2] = "null";
  if (result.type[0] != '\0') std::snprintf(type, sizeof type, "\"%s\"", result.type);
  int n = std::snprintf(out, capacity,
                        "{\"device_id\":\"%s\",\"command_id\":%s,\"type\":%s,\"accepted\":%s,"
                        "\"timestamp\":%lld",
                        device_id, id, type, result.accepted ? "true" : "false",
                        static_cast<long long>(timestamp_ms));
  if (n < 0 || static_cast<std::size_t>(n) >= capacity) return 0;
  if (!result.accepted) {
    const int more = std::snprintf(out + n, capacity - static_cast<std::size_t>(n),
                                   ",\"reason\":\"%s\"%s%s%s", result.reason,
                                   result.field[0] ? ",\"field\":\"" : "", result.field,
                                   result.field[0] ? "\"" : "");
    if (more < 0 || static_cast<std::size_t>(n + more) >= capacity) return 0;
    n += more;
  }
  if (static_cast<std::size_t>(n) + 1 >= capacity) return 0;
  out[n++] = '}';
  out[n] = '\0';
  return static_cast<std::size_t>(n);
}

}  // namespace modax
