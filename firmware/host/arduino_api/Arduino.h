// Declarations of the Arduino-ESP32 API that src/main.cpp uses, with the real signatures,
// so the host build can compile-check the glue (`make glue-check`, -fsyntax-only: nothing here
// is ever linked or run). Written for modax, Apache License 2.0.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>

using TickType_t = std::uint32_t;
using BaseType_t = int;
using UBaseType_t = unsigned;
using TaskFunction_t = void (*)(void*);
using TaskHandle_t = void*;
struct portMUX_TYPE {
  std::uint32_t owner;
  std::uint32_t count;
};
#define portMUX_INITIALIZER_UNLOCKED {0, 0}
void portENTER_CRITICAL(portMUX_TYPE* mux);
void portEXIT_CRITICAL(portMUX_TYPE* mux);
TickType_t xTaskGetTickCount();
void vTaskDelayUntil(TickType_t* previous_wake, TickType_t increment);
constexpr TickType_t pdMS_TO_TICKS(std::uint32_t ms) { return ms; }
BaseType_t xTaskCreatePinnedToCore(TaskFunction_t task, const char* name, std::uint32_t stack,
                                   void* parameters, UBaseType_t priority, TaskHandle_t* created,
                                   BaseType_t core);

constexpr std::uint8_t LOW = 0x0;
constexpr std::uint8_t HIGH = 0x1;
constexpr std::uint8_t INPUT = 0x01;
constexpr std::uint8_t OUTPUT = 0x03;
constexpr std::uint8_t INPUT_PULLUP = 0x05;
enum adc_attenuation_t { ADC_0db, ADC_2_5db, ADC_6db, ADC_11db };

void pinMode(std::uint8_t pin, std::uint8_t mode);
int digitalRead(std::uint8_t pin);
void digitalWrite(std::uint8_t pin, std::uint8_t value);
std::uint16_t analogRead(std::uint8_t pin);
std::uint32_t analogReadMilliVolts(std::uint8_t pin);
void analogReadResolution(std::uint8_t bits);
void analogSetAttenuation(adc_attenuation_t attenuation);
void delay(std::uint32_t ms);
void configTime(long gmt_offset_sec, int daylight_offset_sec, const char* server1,
                const char* server2 = nullptr, const char* server3 = nullptr);

class HardwareSerial {
 public:
  void begin(unsigned long baud);
  std::size_t printf(const char* format, ...) __attribute__((format(printf, 2, 3)));
  std::size_t println(const char* text);
};
extern HardwareSerial Serial;

class EspClass {
 public:
  std::uint64_t getEfuseMac();
};
extern EspClass ESP;
