// Build-time settings of the field device: include/config.h (git-ignored, see
// config.example.h) and -D build flags override the defaults below.
#pragma once

#if __has_include("config.h")
#include "config.h"
#endif

// Network
#ifndef MODAX_WIFI_SSID
#define MODAX_WIFI_SSID ""
#endif
#ifndef MODAX_WIFI_PASSWORD
#define MODAX_WIFI_PASSWORD ""
#endif
#ifndef MODAX_WIFI_CHANNEL
#define MODAX_WIFI_CHANNEL 0  // 0: scan; a fixed channel connects faster
#endif
#ifndef MODAX_NTP_SERVER
#define MODAX_NTP_SERVER "pool.ntp.org"
#endif

// MQTT
#ifndef MODAX_MQTT_HOST
#define MODAX_MQTT_HOST ""
#endif
#ifndef MODAX_MQTT_TLS
#define MODAX_MQTT_TLS 0
#endif
#ifndef MODAX_MQTT_PORT
#if MODAX_MQTT_TLS
#define MODAX_MQTT_PORT 8883
#else
#define MODAX_MQTT_PORT 1883
#endif
#endif
#ifndef MODAX_MQTT_USER
#define MODAX_MQTT_USER ""
#endif
#ifndef MODAX_MQTT_PASSWORD
#define MODAX_MQTT_PASSWORD ""
#endif
#ifndef MODAX_MQTT_CA_CERT
#define MODAX_MQTT_CA_CERT ""
#endif

// Identity
#ifndef MODAX_DEVICE_ID
#define MODAX_DEVICE_ID ""
#endif
#ifndef MODAX_FIRMWARE_VERSION
#define MODAX_FIRMWARE_VERSION "0.1.0"
#endif

// Offline buffer: readings kept while the broker is away (64 bytes each; 600 = 1 min at 10 Hz)
#ifndef MODAX_OFFLINE_READINGS
#define MODAX_OFFLINE_READINGS 600
#endif
#ifndef MODAX_OFFLINE_SAFETY
#define MODAX_OFFLINE_SAFETY 120
#endif

// Pins (the MODAX field layer's; all analog inputs are on ADC1, which works with WiFi on)
#ifndef MODAX_PIN_CURRENT_1
#define MODAX_PIN_CURRENT_1 34
#endif
#ifndef MODAX_PIN_CURRENT_2
#define MODAX_PIN_CURRENT_2 35
#endif
#ifndef MODAX_PIN_NTC
#define MODAX_PIN_NTC 32
#endif
#ifndef MODAX_PIN_ESTOP
#define MODAX_PIN_ESTOP 25
#endif
#ifndef MODAX_PIN_DOOR
#define MODAX_PIN_DOOR 26
#endif
#ifndef MODAX_PIN_SDA
#define MODAX_PIN_SDA 21
#endif
#ifndef MODAX_PIN_SCL
#define MODAX_PIN_SCL 22
#endif
#ifndef MODAX_PIN_SAFETY_RELAY
#define MODAX_PIN_SAFETY_RELAY -1  // a GPIO driven HIGH while the machine may run; -1: none
#endif

// ADC: 0 reads raw counts (0..4095 for 0..3.3 V, what Wokwi simulates); 1 reads the ESP32's
// factory-calibrated millivolts (analogReadMilliVolts), more accurate on real hardware, whose
// ADC is not linear near its ends.
#ifndef MODAX_ADC_MILLIVOLTS
#define MODAX_ADC_MILLIVOLTS 0
#endif

// Switch polarity. The MODAX wiring: both switches to GND with the internal pull-up, so a
// pressed e-stop and a closed door read LOW. A fail-safe e-stop uses a normally-closed
// contact instead (a cut wire then reads as a stop): set MODAX_ESTOP_ACTIVE_LOW to 0.
#ifndef MODAX_ESTOP_ACTIVE_LOW
#define MODAX_ESTOP_ACTIVE_LOW 1
#endif
#ifndef MODAX_DOOR_CLOSED_LOW
#define MODAX_DOOR_CLOSED_LOW 1
#endif
