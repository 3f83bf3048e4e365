// Reconnect delays: exponential backoff with jitter, so a fleet does not reconnect in step.
#pragma once

#include <cstdint>

namespace modax {

/// Delay before the next reconnect attempt: attempt k waits a random time in
/// [d/2, d] with d = min(max_ms, base_ms · 2^k); reset() after a successful connect.
///
/// Example:
///   modax::Backoff backoff(500, 30000, device_seed);
///   next_try_ms = now_ms + backoff.next_delay_ms();  // 250..500, then 500..1000, ...
class Backoff {
 public:
  Backoff(std::uint32_t base_ms, std::uint32_t max_ms, std::uint32_t seed)
      : base_ms_(base_ms), max_ms_(max_ms), state_(seed != 0 ? seed : 0x9E3779B9u) {}

  std::uint32_t next_delay_ms() {
    std::uint64_t delay = base_ms_;
    for (std::uint32_t i = 0; i < attempt_ && delay < max_ms_; ++i) delay *= 2;
    if (delay > max_ms_) delay = max_ms_;
    if (attempt_ < 32) ++attempt_;
    const std::uint64_t half = delay / 2;
    return static_cast<std::uint32_t>(half + random() % (delay - half + 1));
  }

  void reset() { attempt_ = 0; }
  std::uint32_t attempts() const { return attempt_; }

 private:
  std::uint32_t random() {  // xorshift32
    state_ ^= state_ << 13;
    state_ ^= state_ >> 17;
    state_ ^= state_ << 5;
    return state_;
  }

  std::uint32_t base_ms_;
  std::uint32_t max_ms_;
  std::uint32_t state_;
  std::uint32_t attempt_ = 0;
};

}  // namespace modax
