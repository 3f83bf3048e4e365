#pragma once
#include <cstdint>
enum wl_status_t { WL_IDLE_STATUS = 0, WL_CONNECTED = 3, WL_DISCONNECTED = 6 };
enum wifi_mode_t { WIFI_OFF, WIFI_STA, WIFI_AP, WIFI_AP_STA };
class Client {
 public:
  virtual ~Client() = default;
};
class WiFiClient : public Client {};
class WiFiClass {
 public:
  bool mode(wifi_mode_t mode);
  bool setAutoReconnect(bool on);
  wl_status_t begin(const char* ssid, const char* passphrase = nullptr, std::int32_t channel = 0,
                    const std::uint8_t* bssid = nullptr, bool connect = true);
  wl_status_t status();
};
extern WiFiClass WiFi;
