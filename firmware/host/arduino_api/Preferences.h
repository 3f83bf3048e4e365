#pragma once
#include <cstddef>
#include <cstdint>
class Preferences {
 public:
  bool begin(const char* name, bool read_only = false, const char* partition = nullptr);
  void end();
  std::uint32_t getUInt(const char* key, std::uint32_t default_value = 0);
  std::size_t putUInt(const char* key, std::uint32_t value);
};
