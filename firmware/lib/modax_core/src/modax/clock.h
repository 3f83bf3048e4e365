// Device time: epoch ms once NTP has synced, otherwise ms since boot.
#pragma once

#include <cstdint>

#include "modax/limits.h"

namespace modax {

/// Maps the device's monotonic clock (ms since boot) to message timestamps.
///
/// Before the first NTP sync a timestamp is the monotonic value itself: below 10¹², which
/// modax.schema reads as "ms since boot". After a sync every timestamp, including those of
/// readings taken earlier and still waiting in the offline buffer, is epoch ms (UTC).
///
/// Example:
///   modax::Clock clock;
///   clock.timestamp(1500);                 // 1500 (ms since boot)
///   clock.sync(1700000000000, 2000);       // NTP says: epoch 1.7e12 ms at mono 2000 ms
///   clock.timestamp(1500);                 // 1699999999500
class Clock {
 public:
  /// Records that the wall clock read `epoch_ms` when the monotonic clock read `mono_ms`.
  /// Values below the epoch threshold (an unset RTC) are ignored.
  void sync(std::int64_t epoch_ms, std::int64_t mono_ms) {
    if (epoch_ms < kEpochMsThreshold) return;
    offset_ms_ = epoch_ms - mono_ms;
    synced_ = true;
  }

  bool synced() const { return synced_; }

  /// The timestamp to publish for something that happened at `mono_ms`.
  std::int64_t timestamp(std::int64_t mono_ms) const {
    return synced_ ? offset_ms_ + mono_ms : mono_ms;
  }

 private:
  bool synced_ = false;
  std::int64_t offset_ms_ = 0;
};

}  // namespace modax
