// The device plumbing: sequence numbers, clock, backoff, ring buffer and outbox.
#include <cstdint>

#include "check.h"
#include "modax_core.h"

TEST_CASE(seq_is_boot_count_times_two_to_the_32_plus_n) {
  modax::Sequence seq(7);
  CHECK_EQ(seq.next(), std::int64_t(7) << 32);
  CHECK_EQ(seq.next(), (std::int64_t(7) << 32) + 1);
  modax::Sequence rebooted(8);
  CHECK(rebooted.next() > seq.next());
  modax::Sequence huge(0xFFFFFFFFu);
  CHECK(huge.next() >= 0);
}

TEST_CASE(clock_uses_ms_since_boot_until_ntp_then_epoch_ms) {
  modax::Clock clock;
  CHECK(!clock.synced());
  CHECK_EQ(clock.timestamp(1500), std::int64_t(1500));
  CHECK(clock.timestamp(1500) < modax::kEpochMsThreshold);
  clock.sync(12345, 2000);  // an RTC that was never set: ignored
  CHECK(!clock.synced());
  clock.sync(1700000000000, 2000);
  CHECK(clock.synced());
  CHECK_EQ(clock.timestamp(2000), std::int64_t(1700000000000));
  CHECK_EQ(clock.timestamp(1500), std::int64_t(1699999999500));  // buffered before the sync
}

TEST_CASE(backoff_doubles_with_jitter_up_to_the_cap) {
  modax::Backoff backoff(500, 30000, 1234);
  std::uint32_t ceiling = 500;
  for (int attempt = 0; attempt < 12; ++attempt) {
    const std::uint32_t d = backoff.next_delay_ms();
    CHECK(d >= ceiling / 2);
    CHECK(d <= ceiling);
    ceiling = ceiling * 2 > 30000 ? 30000 : ceiling * 2;
  }
  backoff.reset();
  CHECK(backoff.next_delay_ms() <= 500);
  modax::Backoff a(500, 30000, 1);
  modax::Backoff b(500, 30000, 2);
  bool differ = false;
  for (int i = 0; i < 8; ++i) differ = differ || a.next_delay_ms() != b.next_delay_ms();
  CHECK(differ);  // two devices do not retry in step
}

TEST_CASE(ring_buffer_drops_the_oldest_and_counts_it) {
  modax::RingBuffer<int, 3> ring;
  CHECK(ring.empty());
  for (int i = 1; i <= 5; ++i) ring.push(i);
  CHECK_EQ(ring.size(), std::size_t(3));
  CHECK_EQ(ring.dropped(), std::uint32_t(2));
  CHECK_EQ(ring.front(), 3);
  ring.pop();
  CHECK_EQ(ring.front(), 4);
  ring.push(6);
  ring.pop();
  ring.pop();
  CHECK_EQ(ring.front(), 6);
  ring.pop();
  CHECK(ring.empty());
}

TEST_CASE(packing_a_quantized_reading_is_exact) {
  modax::Reading r;
  r.ts_ms = 123456;
  r.n_currents = 3;
  r.currents_a[0] = 4.2071;
  r.currents_a[1] = -16.5;
  r.currents_a[2] = 0.0004;
  r.n_temperatures = 2;
  r.temperatures_c[0] = 85.004;
  r.temperatures_c[1] = -55.0;
  r.vibration = {0.0123, -78.4532, 9.80665, 0.0};
  const modax::Reading q = modax::quantized(r);
  const modax::Reading back = modax::unpack(modax::pack(q, 99));
  CHECK_EQ(back.ts_ms, q.ts_ms);
  CHECK_EQ(back.n_currents, 3);
  CHECK_EQ(back.n_temperatures, 2);
  for (int i = 0; i < 3; ++i) CHECK_EQ(back.currents_a[i], q.currents_a[i]);
  for (int i = 0; i < 2; ++i) CHECK_EQ(back.temperatures_c[i], q.temperatures_c[i]);
  CHECK_EQ(back.vibration.x, q.vibration.x);
  CHECK_EQ(back.vibration.y, q.vibration.y);
  CHECK_EQ(back.vibration.z, q.vibration.z);
  CHECK_EQ(back.vibration.magnitude, q.vibration.magnitude);
  CHECK_EQ(modax::pack(q, 99).seq, std::int64_t(99));
  CHECK(sizeof(modax::TelemetryRecord) <= 64);
}

TEST_CASE(outbox_replays_oldest_first_across_kinds) {
  modax::Outbox<4, 2> outbox;
  modax::Reading r;
  r.n_currents = 1;
  r.n_temperatures = 1;
  for (int i = 0; i < 6; ++i) {
    r.ts_ms = 100 * i;
    outbox.add(modax::pack(r, i));
  }
  outbox.add(modax::SafetyRecord{250, 0, {}});
  CHECK_EQ(outbox.dropped(), std::uint32_t(2));  // readings 0 and 1 were overwritten
  CHECK_EQ(outbox.size(), std::size_t(5));
  std::int64_t last = -1;
  int safety = 0;
  while (outbox.next() != modax::Pending::kNothing) {
    const modax::Pending kind = outbox.next();
    const bool is_safety = kind == modax::Pending::kSafety;
    const std::int64_t ts = is_safety ? outbox.safety().ts_ms : outbox.telemetry().ts_ms;
    const std::int64_t seq = is_safety ? outbox.safety().seq : outbox.telemetry().seq;
    CHECK(ts >= last);
    last = ts;
    safety += is_safety;
    CHECK(!outbox.pop(kind, seq + 100));  // not the message that was sent: kept
    CHECK(outbox.pop(kind, seq));
  }
  CHECK_EQ(safety, 1);
  CHECK_EQ(last, std::int64_t(500));
}

TEST_CASE(outbox_keeps_a_message_that_was_overwritten_while_sending) {
  modax::Outbox<2, 1> outbox;
  modax::Reading r;
  outbox.add(modax::pack(r, 1));
  outbox.add(modax::pack(r, 2));
  const modax::TelemetryRecord sending = outbox.telemetry();  // seq 1 goes out ...
  outbox.add(modax::pack(r, 3));                              // ... while 3 overwrites it
  CHECK(!outbox.pop(modax::Pending::kTelemetry, sending.seq));
  CHECK_EQ(outbox.telemetry().seq, std::int64_t(2));
  CHECK_EQ(outbox.size(), std::size_t(2));
}
