#pragma once
#include <cstddef>
#include <cstdint>
class TwoWire {
 public:
  bool begin(int sda, int scl, std::uint32_t frequency = 0);
  void beginTransmission(std::uint8_t address);
  std::uint8_t endTransmission(bool send_stop);
  std::uint8_t endTransmission();
  std::size_t requestFrom(std::uint8_t address, std::size_t size, bool send_stop);
  std::uint8_t requestFrom(std::uint8_t address, std::uint8_t size);
  std::size_t write(std::uint8_t value);
  int read();
};
extern TwoWire Wire;
