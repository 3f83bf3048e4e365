// Copy this file to include/config.h (git-ignored) and fill in your site's values.
// Every setting can also be given as a build flag instead, e.g. in platformio.ini:
//   build_flags = '-D MODAX_WIFI_SSID="plant-floor"' -D MODAX_MQTT_PORT=8883
// Anything left out takes the default in include/modax_config.h.
#pragma once

// --- network -----------------------------------------------------------------------------
#define MODAX_WIFI_SSID "your-wifi"
#define MODAX_WIFI_PASSWORD "your-wifi-password"

// --- MQTT broker (modax broker, mosquitto, or a cluster) ---------------------------------
#define MODAX_MQTT_HOST "192.168.1.100"
#define MODAX_MQTT_PORT 1883
#define MODAX_MQTT_USER ""      // empty: no authentication
#define MODAX_MQTT_PASSWORD ""

// MQTT over TLS: set to 1, use port 8883 and give the CA certificate that signed the broker's
// certificate (deploy/ has a script that makes a development CA).
#define MODAX_MQTT_TLS 0
#define MODAX_MQTT_CA_CERT \
  "-----BEGIN CERTIFICATE-----\n" \
  "...\n" \
  "-----END CERTIFICATE-----\n"

// --- identity ----------------------------------------------------------------------------
// Empty: "esp32-" and the chip's MAC address, e.g. esp32-240ac4000110.
// Otherwise 1-64 characters of A-Z a-z 0-9 _ . -
#define MODAX_DEVICE_ID ""
