// Per-device sequence numbers that never repeat, across reboots (docs/decisions/0003).
#pragma once

#include <cstdint>

namespace modax {

/// seq = boot_count × 2³² + n, where n counts the messages of one kind since boot. The boot
/// count lives in non-volatile storage and grows by one at every start, so a rebooted device
/// never sends a seq the ingester already holds (it would drop the message as a duplicate).
///
/// Example:
///   modax::Sequence seq(7);
///   seq.next();  // 30064771072 == 7 << 32
///   seq.next();  // 30064771073
class Sequence {
 public:
  /// `boot_count` is kept below 2³¹ so that every seq is a non-negative int64.
  explicit Sequence(std::uint32_t boot_count) : boot_(boot_count & 0x7FFFFFFFu) {}

  std::int64_t next() {
    return static_cast<std::int64_t>((static_cast<std::uint64_t>(boot_) << 32) | count_++);
  }
  std::uint32_t boot_count() const { return boot_; }

 private:
  std::uint32_t boot_;
  std::uint32_t count_ = 0;
};

}  // namespace modax
