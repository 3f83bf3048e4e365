// The offline buffer: every message waits here until the broker has it, oldest first.
//
// Readings are stored packed (integers in the published resolution: mA, 0.01 °C, mm/s²), 64
// bytes each, so 600 readings (one minute at 10 Hz) take 38 KB. Packing is exact for quantized
// readings: unpack(pack(quantized(r))) == quantized(r), bit for bit.
#pragma once

#include <cstddef>
#include <cstdint>

#include "modax/device_safety.h"
#include "modax/reading.h"
#include "modax/ring_buffer.h"

namespace modax {

/// A quantized reading with its seq, as the outbox keeps it. `ts_ms` is monotonic device time.
struct TelemetryRecord {
  std::int64_t ts_ms;
  std::int64_t seq;
  std::int32_t current_ma[kMaxChannels];
  std::int32_t temperature_cc[kMaxChannels];  ///< 0.01 °C
  std::int32_t vibration_mms2[3];             ///< mm/s², x y z
  std::uint8_t n_currents;
  std::uint8_t n_temperatures;
};

/// A safety message with its seq; `ts_ms` is monotonic device time.
struct SafetyRecord {
  std::int64_t ts_ms;
  std::int64_t seq;
  DeviceSafety state;
};

TelemetryRecord pack(const Reading& reading, std::int64_t seq);
/// The quantized reading back, its magnitude recomputed from the components.
Reading unpack(const TelemetryRecord& record);

/// What the outbox holds next, oldest first.
enum class Pending : std::uint8_t { kNothing, kTelemetry, kSafety };

/// Two ring buffers (telemetry, safety) drained in order of device time.
///
/// Example:
///   modax::Outbox<600, 64> outbox;
///   outbox.add(modax::pack(reading, seq.next()));
///   if (outbox.next() == modax::Pending::kTelemetry) {
///     const modax::TelemetryRecord record = outbox.telemetry();
///     if (publish(record)) outbox.pop(modax::Pending::kTelemetry, record.seq);
///   }
template <std::size_t TelemetryCapacity, std::size_t SafetyCapacity>
class Outbox {
 public:
  void add(const TelemetryRecord& record) { telemetry_.push(record); }
  void add(const SafetyRecord& record) { safety_.push(record); }

  Pending next() const {
    if (telemetry_.empty() && safety_.empty()) return Pending::kNothing;
    if (safety_.empty()) return Pending::kTelemetry;
    if (telemetry_.empty()) return Pending::kSafety;
    return safety_.front().ts_ms <= telemetry_.front().ts_ms ? Pending::kSafety
                                                            : Pending::kTelemetry;
  }

  const TelemetryRecord& telemetry() const { return telemetry_.front(); }
  const SafetyRecord& safety() const { return safety_.front(); }

  /// Removes the oldest message of `kind` if it is still the one with `seq` (it may have been
  /// overwritten while it was being sent); returns whether it did.
  bool pop(Pending kind, std::int64_t seq) {
    if (kind == Pending::kTelemetry && !telemetry_.empty() && telemetry_.front().seq == seq) {
      telemetry_.pop();
      return true;
    }
    if (kind == Pending::kSafety && !safety_.empty() && safety_.front().seq == seq) {
      safety_.pop();
      return true;
    }
    return false;
  }

  std::size_t size() const { return telemetry_.size() + safety_.size(); }
  /// Messages lost because the buffer was full while the broker was away.
  std::uint32_t dropped() const { return telemetry_.dropped() + safety_.dropped(); }

 private:
  RingBuffer<TelemetryRecord, TelemetryCapacity> telemetry_;
  RingBuffer<SafetyRecord, SafetyCapacity> safety_;
};

}  // namespace modax
