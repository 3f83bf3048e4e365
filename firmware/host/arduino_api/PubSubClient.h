#pragma once
#include <cstdint>
#include <functional>
class Client;
class PubSubClient {
 public:
  explicit PubSubClient(Client& client);
  PubSubClient& setServer(const char* domain, std::uint16_t port);
  bool setBufferSize(std::uint16_t size);
  PubSubClient& setKeepAlive(std::uint16_t seconds);
  PubSubClient& setSocketTimeout(std::uint16_t seconds);
  bool connect(const char* id, const char* user, const char* pass, const char* will_topic,
               std::uint8_t will_qos, bool will_retain, const char* will_message);
  bool publish(const char* topic, const char* payload);
  bool publish(const char* topic, const char* payload, bool retained);
  PubSubClient& setCallback(std::function<void(char*, std::uint8_t*, unsigned int)> callback);
  bool subscribe(const char* topic, std::uint8_t qos);
  bool connected();
  bool loop();
  int state();
};
