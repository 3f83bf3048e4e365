#pragma once
#include <cstdint>
std::int64_t esp_timer_get_time();
