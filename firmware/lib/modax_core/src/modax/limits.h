// Sensor ranges and sizes of the message contract, mirrored from modax.schema.
//
// tests/test_firmware.py compares every constant here with its Python twin
// (modax.schema.CURRENT_LIMIT_A, TEMPERATURE_RANGE_C, VIBRATION_LIMIT_MS2, MAX_CHANNELS,
// MAX_PAYLOAD_BYTES, EPOCH_MS_THRESHOLD), so the two cannot drift apart.
#pragma once

#include <cstddef>
#include <cstdint>

namespace modax {

/// Most motor currents / temperatures one telemetry message may carry.
constexpr int kMaxChannels = 4;
/// Largest |I| the contract accepts, in A.
constexpr double kCurrentLimitA = 100.0;
/// Coldest and hottest temperature the contract accepts, in °C (inclusive).
constexpr double kTemperatureMinC = -55.0;
constexpr double kTemperatureMaxC = 200.0;
/// Largest |a| of one vibration component, in m/s²; the magnitude may reach twice that.
constexpr double kVibrationLimitMs2 = 200.0;
/// Largest payload the ingester accepts, in bytes.
constexpr std::size_t kMaxPayloadBytes = 64 * 1024;
/// Timestamps at or above this are epoch ms; below, ms since the device booted.
constexpr std::int64_t kEpochMsThreshold = 1000000000000LL;
/// Longest device id (pattern ^[A-Za-z0-9_.-]{1,64}$).
constexpr std::size_t kMaxDeviceIdLength = 64;

}  // namespace modax
