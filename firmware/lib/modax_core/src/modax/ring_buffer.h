// A fixed-capacity FIFO that overwrites its oldest item when full and counts what it dropped.
#pragma once

#include <cstddef>
#include <cstdint>

namespace modax {

/// Example:
///   modax::RingBuffer<int, 3> ring;
///   ring.push(1); ring.push(2); ring.push(3); ring.push(4);  // 1 is dropped
///   ring.front();  // 2
///   ring.dropped();  // 1
template <typename T, std::size_t N>
class RingBuffer {
  static_assert(N > 0, "a ring buffer needs room for one item");

 public:
  /// Adds `item` at the back; when full, the oldest item is overwritten and counted.
  void push(const T& item) {
    if (size_ == N) {
      head_ = (head_ + 1) % N;
      --size_;
      ++dropped_;
    }
    items_[(head_ + size_) % N] = item;
    ++size_;
  }

  /// The oldest item; only when !empty().
  const T& front() const { return items_[head_]; }

  /// Removes the oldest item; only when !empty().
  void pop() {
    head_ = (head_ + 1) % N;
    --size_;
  }

  bool empty() const { return size_ == 0; }
  std::size_t size() const { return size_; }
  static constexpr std::size_t capacity() { return N; }
  /// Items overwritten before they could be sent, since start.
  std::uint32_t dropped() const { return dropped_; }

 private:
  T items_[N];
  std::size_t head_ = 0;
  std::size_t size_ = 0;
  std::uint32_t dropped_ = 0;
};

}  // namespace modax
