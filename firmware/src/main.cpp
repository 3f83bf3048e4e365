// modax field device: thin Arduino glue around lib/modax_core.
//
// A sensor task samples at 20 Hz: e-stop, door, both ACS712 currents and the NTC give the
// safety message (published on every change and at least once a second); every second sample
// also reads the MPU6050 and becomes a 10 Hz telemetry reading, checked by the same safety
// rules as modax.kernels.safety. Every message waits in the offline buffer (outbox) until the
// broker has it, so a network outage replays in order once the connection is back. loop()
// keeps WiFi, NTP and MQTT up (reconnect with backoff) and drains the outbox. Commands on
// modax/devices/<id>/command (set_sample_rate, set_thresholds: modax/command.h) are applied by
// loop() and handed to the sensor task, which takes them at its next sample; each is acked.
#include <Arduino.h>
#include <PubSubClient.h>
#include <Preferences.h>
#include <WiFi.h>
#include <WiFiClientSecure.h>
#include <Wire.h>
#include <esp_timer.h>
#include <sys/time.h>

#include <cmath>
#include <cstring>

#include "modax_config.h"
#include "modax_core.h"

namespace {

constexpr std::uint32_t kSamplePeriodMs = 50;    // 20 Hz safety checks
constexpr std::uint32_t kHeartbeatMs = 30000;    // retained "online" status
constexpr std::uint32_t kNtpResyncMs = 600000;
constexpr std::uint32_t kNtpGraceMs = 10000;  // hold messages this long for a first NTP sync
constexpr int kDrainPerLoop = 20;
constexpr std::uint8_t kMpuAddress = 0x68;
constexpr modax::AccelRange kAccelRange = modax::AccelRange::k8g;
constexpr std::size_t kTopicSize = 96;
constexpr std::size_t kPayloadSize = 512;

char g_device_id[modax::kMaxDeviceIdLength + 1];
char g_topic_telemetry[kTopicSize];
char g_topic_safety[kTopicSize];
char g_topic_status[kTopicSize];
char g_topic_command[kTopicSize];
char g_topic_ack[kTopicSize];
char g_will[96];

#if MODAX_ADC_MILLIVOLTS
modax::AdcConfig millivolt_adc() {  // calibrated mV: "counts" of 1 mV, 3300 at 3.3 V
  modax::AdcConfig adc;
  adc.full_scale = 3300;
  return adc;
}
const modax::AdcConfig g_adc = millivolt_adc();
int read_adc(std::uint8_t pin) { return static_cast<int>(analogReadMilliVolts(pin)); }
#else
const modax::AdcConfig g_adc{};
int read_adc(std::uint8_t pin) { return analogRead(pin); }
#endif
const modax::Acs712Config g_acs712{};
const modax::NtcConfig g_ntc{};

// Shared between the sensor task and loop(): only through the outbox, under this lock.
modax::Outbox<MODAX_OFFLINE_READINGS, MODAX_OFFLINE_SAFETY> g_outbox;
portMUX_TYPE g_outbox_lock = portMUX_INITIALIZER_UNLOCKED;

// Settings a command changed: loop() hands them over, the sensor task takes them (this lock).
modax::DeviceSettings g_settings_handed;
bool g_settings_new = false;
portMUX_TYPE g_settings_lock = portMUX_INITIALIZER_UNLOCKED;

// Sensor task only.
modax::SafetyConfig g_rules;
std::uint32_t g_telemetry_every = 2;  // every 2nd sample: 10 Hz telemetry
modax::SafetyMonitor g_monitor(g_rules);
modax::Sequence* g_telemetry_seq = nullptr;
modax::Sequence* g_safety_seq = nullptr;
bool g_mpu_ok = false;

// loop() only.
modax::DeviceSettings g_settings;  // what the commands so far have set
modax::Clock g_clock;
#if MODAX_MQTT_TLS
WiFiClientSecure g_net;
#else
WiFiClient g_net;
#endif
PubSubClient g_mqtt(g_net);
modax::Backoff* g_backoff = nullptr;
std::int64_t g_next_connect_ms = 0;
std::int64_t g_last_heartbeat_ms = 0;
std::int64_t g_last_ntp_ms = -static_cast<std::int64_t>(kNtpResyncMs);
bool g_ntp_started = false;
std::int64_t g_ntp_started_ms = 0;
std::uint32_t g_dropped_reported = 0;

std::int64_t mono_ms() { return esp_timer_get_time() / 1000; }

void outbox_counts(std::size_t* waiting, std::uint32_t* dropped) {
  portENTER_CRITICAL(&g_outbox_lock);
  *waiting = g_outbox.size();
  *dropped = g_outbox.dropped();
  portEXIT_CRITICAL(&g_outbox_lock);
}

std::uint32_t next_boot_count() {
  Preferences prefs;
  prefs.begin("modax", false);
  const std::uint32_t boot = prefs.getUInt("boot", 0) + 1;
  prefs.putUInt("boot", boot);
  prefs.end();
  return boot;
}

void make_device_id() {
  if (MODAX_DEVICE_ID[0] != '\0') {
    snprintf(g_device_id, sizeof g_device_id, "%s", MODAX_DEVICE_ID);
  } else {
    const std::uint64_t mac = ESP.getEfuseMac();  // first byte in the lowest bits
    snprintf(g_device_id, sizeof g_device_id, "esp32-%02x%02x%02x%02x%02x%02x",
             static_cast<unsigned>(mac & 0xFF), static_cast<unsigned>((mac >> 8) & 0xFF),
             static_cast<unsigned>((mac >> 16) & 0xFF), static_cast<unsigned>((mac >> 24) & 0xFF),
             static_cast<unsigned>((mac >> 32) & 0xFF), static_cast<unsigned>((mac >> 40) & 0xFF));
  }
}

// --- sensors -----------------------------------------------------------------------------

void mpu_write(std::uint8_t reg, std::uint8_t value) {
  Wire.beginTransmission(kMpuAddress);
  Wire.write(reg);
  Wire.write(value);
  Wire.endTransmission();
}

bool mpu_begin() {
  Wire.begin(MODAX_PIN_SDA, MODAX_PIN_SCL);
  Wire.beginTransmission(kMpuAddress);
  Wire.write(0x75);  // WHO_AM_I
  if (Wire.endTransmission(false) != 0 || Wire.requestFrom(kMpuAddress, std::uint8_t(1)) != 1) {
    return false;
  }
  Wire.read();
  mpu_write(0x6B, 0x00);  // PWR_MGMT_1: wake up
  mpu_write(0x1C, static_cast<std::uint8_t>(static_cast<int>(kAccelRange) << 3));  // ±8 g
  mpu_write(0x1A, 0x04);  // CONFIG: 21 Hz low-pass, as the MODAX firmware set it
  return true;
}

bool mpu_read(std::int16_t raw[3]) {
  Wire.beginTransmission(kMpuAddress);
  Wire.write(0x3B);  // ACCEL_XOUT_H
  if (Wire.endTransmission(false) != 0 || Wire.requestFrom(kMpuAddress, std::uint8_t(6)) != 6) {
    return false;
  }
  for (int i = 0; i < 3; ++i) {
    const int high = Wire.read();
    const int low = Wire.read();
    raw[i] = static_cast<std::int16_t>((high << 8) | low);
  }
  return true;
}

bool switch_active(int pin, bool active_low) { return (digitalRead(pin) == LOW) == active_low; }

void log_events(const modax::SafetyEvent* events, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    Serial.printf("modax: safety %s %s value=%.3f threshold=%.3f\n",
                  modax::rule_name(events[i].rule), events[i].begin ? "begin" : "end",
                  events[i].value, events[i].threshold);
  }
}

/// Sensor task: takes the settings of the latest accepted command, from this sample on.
void take_settings() {
  modax::DeviceSettings settings;
  bool changed = false;
  portENTER_CRITICAL(&g_settings_lock);
  if (g_settings_new) {
    settings = g_settings_handed;
    g_settings_new = false;
    changed = true;
  }
  portEXIT_CRITICAL(&g_settings_lock);
  if (!changed) return;
  g_rules = settings.safety;
  g_monitor = modax::SafetyMonitor(g_rules);  // the rules start afresh with the new thresholds
  const double every = 1000.0 / (settings.sample_rate_hz * kSamplePeriodMs);
  g_telemetry_every = every < 1.0 ? 1 : static_cast<std::uint32_t>(std::lround(every));
}

void sample(std::uint32_t tick, modax::SafetyPublisher& publisher, bool& tripped) {
  take_settings();
  const std::int64_t now = mono_ms();
  double currents[2] = {
      modax::acs712_current_a(read_adc(MODAX_PIN_CURRENT_1), g_adc, g_acs712),
      modax::acs712_current_a(read_adc(MODAX_PIN_CURRENT_2), g_adc, g_acs712),
  };
  const modax::NtcReading ntc = modax::ntc_temperature(read_adc(MODAX_PIN_NTC), g_adc, g_ntc);
  const modax::DeviceSafety state = modax::evaluate_device_safety(
      switch_active(MODAX_PIN_ESTOP, MODAX_ESTOP_ACTIVE_LOW),
      switch_active(MODAX_PIN_DOOR, MODAX_DOOR_CLOSED_LOW), currents, 2, &ntc, 1, g_rules);

  // Local safety response first, independent of the network (and of any model).
  if (MODAX_PIN_SAFETY_RELAY >= 0) {
    digitalWrite(MODAX_PIN_SAFETY_RELAY, state.tripped() ? LOW : HIGH);
  }
  if (state.tripped() != tripped) {
    tripped = state.tripped();
    Serial.printf("modax: %s estop=%d door_closed=%d overload=%d temperature_ok=%d\n",
                  tripped ? "SAFETY TRIGGERED" : "safety clear", state.emergency_stop,
                  state.door_closed, state.overload_detected, state.temperature_ok);
  }
  if (publisher.due(state, now)) {
    const modax::SafetyRecord record{now, g_safety_seq->next(), state};
    portENTER_CRITICAL(&g_outbox_lock);
    g_outbox.add(record);
    portEXIT_CRITICAL(&g_outbox_lock);
    publisher.published(state, now);
  }

  if (tick % g_telemetry_every != 0) return;
  modax::Reading reading;
  reading.ts_ms = now;
  reading.n_currents = 2;
  reading.currents_a[0] = currents[0];
  reading.currents_a[1] = currents[1];
  reading.n_temperatures = 1;
  reading.temperatures_c[0] = ntc.celsius;
  std::int16_t raw[3] = {0, 0, 0};
  if (g_mpu_ok && mpu_read(raw)) {
    reading.vibration.x = modax::mpu6050_accel_ms2(raw[0], kAccelRange);
    reading.vibration.y = modax::mpu6050_accel_ms2(raw[1], kAccelRange);
    reading.vibration.z = modax::mpu6050_accel_ms2(raw[2], kAccelRange);
  }  // else all zero: sensor_stuck reports the dead sensor after 5 s
  reading = modax::quantized(reading);
  modax::SafetyEvent events[modax::kRuleCount];
  const std::size_t changes = g_monitor.update(reading, events);
  log_events(events, changes);
  const modax::TelemetryRecord record = modax::pack(reading, g_telemetry_seq->next());
  portENTER_CRITICAL(&g_outbox_lock);
  g_outbox.add(record);
  portEXIT_CRITICAL(&g_outbox_lock);
}

void sensor_task(void*) {
  modax::SafetyPublisher publisher;
  bool tripped = false;
  std::uint32_t tick = 0;
  TickType_t wake = xTaskGetTickCount();
  for (;;) {
    vTaskDelayUntil(&wake, pdMS_TO_TICKS(kSamplePeriodMs));
    sample(tick++, publisher, tripped);
  }
}

// --- network -----------------------------------------------------------------------------

void keep_time(std::int64_t now) {
  if (WiFi.status() != WL_CONNECTED) return;
  if (!g_ntp_started) {
    configTime(0, 0, MODAX_NTP_SERVER);  // UTC
    g_ntp_started = true;
    g_ntp_started_ms = now;
  }
  if (now - g_last_ntp_ms < static_cast<std::int64_t>(g_clock.synced() ? kNtpResyncMs : 1000)) {
    return;
  }
  g_last_ntp_ms = now;
  timeval tv;
  gettimeofday(&tv, nullptr);
  const std::int64_t epoch_ms =
      static_cast<std::int64_t>(tv.tv_sec) * 1000 + static_cast<std::int64_t>(tv.tv_usec) / 1000;
  const bool was_synced = g_clock.synced();
  g_clock.sync(epoch_ms, mono_ms());
  if (g_clock.synced() && !was_synced) Serial.println("modax: time synced (NTP)");
}

/// Whether messages may leave: once NTP has synced, so they carry epoch time, or when the
/// time server has not answered within kNtpGraceMs (they then carry ms since boot).
bool time_settled(std::int64_t now) {
  return g_clock.synced() || (g_ntp_started && now - g_ntp_started_ms >= kNtpGraceMs);
}

bool publish_status(std::int64_t now) {
  modax::StatusInfo info;
  info.timestamp_ms = g_clock.timestamp(now);
  info.firmware_version = MODAX_FIRMWARE_VERSION;
  info.uptime_ms = now;
  char payload[kPayloadSize];
  const modax::PayloadResult r =
      modax::build_status(payload, sizeof payload, g_device_id, true, info);
  return r.ok() && g_mqtt.publish(g_topic_status, payload, true);
}

/// loop() (PubSubClient calls it from g_mqtt.loop()): applies a command, acknowledges it.
void on_command(char* topic, std::uint8_t* payload, unsigned int length) {
  if (std::strcmp(topic, g_topic_command) != 0) return;
  const modax::CommandResult result = modax::apply_command(
      reinterpret_cast<const char*>(payload), length, g_device_id, &g_settings);
  if (result.accepted) {
    portENTER_CRITICAL(&g_settings_lock);
    g_settings_handed = g_settings;
    g_settings_new = true;
    portEXIT_CRITICAL(&g_settings_lock);
  }
  char ack[256];  // PubSubClient's buffer held the command: it is read by now
  const std::size_t n = modax::build_command_ack(ack, sizeof ack, g_device_id, result,
                                                 g_clock.timestamp(mono_ms()));
  if (n > 0) g_mqtt.publish(g_topic_ack, ack);
}

void keep_mqtt(std::int64_t now) {
  if (g_mqtt.connected() || WiFi.status() != WL_CONNECTED || now < g_next_connect_ms) return;
  const char* user = MODAX_MQTT_USER[0] ? MODAX_MQTT_USER : nullptr;
  const char* password = MODAX_MQTT_PASSWORD[0] ? MODAX_MQTT_PASSWORD : nullptr;
  if (g_mqtt.connect(g_device_id, user, password, g_topic_status, 1, true, g_will)) {
    g_backoff->reset();
    std::size_t waiting;
    std::uint32_t dropped;
    outbox_counts(&waiting, &dropped);
    Serial.printf("modax: mqtt connected, %u messages waiting\n", static_cast<unsigned>(waiting));
    publish_status(now);
    g_mqtt.subscribe(g_topic_command, 1);
    g_last_heartbeat_ms = now;
    return;
  }
  const std::uint32_t delay_ms = g_backoff->next_delay_ms();
  g_next_connect_ms = now + delay_ms;
  Serial.printf("modax: mqtt connect failed (state %d), retry in %u ms\n", g_mqtt.state(),
                static_cast<unsigned>(delay_ms));
}

/// Publishes the oldest waiting message; false when there is none or the broker did not take it.
bool send_one() {
  modax::Pending kind;
  modax::TelemetryRecord telemetry{};
  modax::SafetyRecord safety{};
  portENTER_CRITICAL(&g_outbox_lock);
  kind = g_outbox.next();
  if (kind == modax::Pending::kTelemetry) telemetry = g_outbox.telemetry();
  if (kind == modax::Pending::kSafety) safety = g_outbox.safety();
  portEXIT_CRITICAL(&g_outbox_lock);
  if (kind == modax::Pending::kNothing) return false;

  char payload[kPayloadSize];
  modax::PayloadResult r;
  const char* topic;
  std::int64_t seq;
  if (kind == modax::Pending::kTelemetry) {
    seq = telemetry.seq;
    topic = g_topic_telemetry;
    r = modax::build_telemetry(payload, sizeof payload, g_device_id,
                               g_clock.timestamp(telemetry.ts_ms), seq, modax::unpack(telemetry));
  } else {
    seq = safety.seq;
    topic = g_topic_safety;
    r = modax::build_safety(payload, sizeof payload, g_device_id, g_clock.timestamp(safety.ts_ms),
                            seq, safety.state);
  }
  if (r.ok() && !g_mqtt.publish(topic, payload)) return false;  // keep it for the next try
  if (!r.ok()) {
    Serial.printf("modax: not sent, %s: %s\n", modax::payload_error_name(r.error), r.field);
  }
  portENTER_CRITICAL(&g_outbox_lock);
  g_outbox.pop(kind, seq);
  portEXIT_CRITICAL(&g_outbox_lock);
  return true;
}

}  // namespace

void setup() {
  Serial.begin(115200);
  make_device_id();
  if (!modax::valid_device_id(g_device_id)) {
    Serial.printf("modax: MODAX_DEVICE_ID \"%s\" must match ^[A-Za-z0-9_.-]{1,64}$\n",
                  g_device_id);
    for (;;) delay(1000);
  }
  const std::uint32_t boot = next_boot_count();
  static modax::Sequence telemetry_seq(boot);
  static modax::Sequence safety_seq(boot);
  static modax::Backoff backoff(500, 30000, static_cast<std::uint32_t>(ESP.getEfuseMac()));
  g_telemetry_seq = &telemetry_seq;
  g_safety_seq = &safety_seq;
  g_backoff = &backoff;
  modax::topic_for(g_topic_telemetry, kTopicSize, g_device_id, "telemetry");
  modax::topic_for(g_topic_safety, kTopicSize, g_device_id, "safety");
  modax::topic_for(g_topic_status, kTopicSize, g_device_id, "status");
  modax::topic_for(g_topic_command, kTopicSize, g_device_id, "command");
  modax::topic_for(g_topic_ack, kTopicSize, g_device_id, "command/ack");
  modax::build_status(g_will, sizeof g_will, g_device_id, false);
  Serial.printf("modax: device %s firmware %s boot %u\n", g_device_id, MODAX_FIRMWARE_VERSION,
                static_cast<unsigned>(boot));

  pinMode(MODAX_PIN_ESTOP, INPUT_PULLUP);
  pinMode(MODAX_PIN_DOOR, INPUT_PULLUP);
  if (MODAX_PIN_SAFETY_RELAY >= 0) {
    pinMode(MODAX_PIN_SAFETY_RELAY, OUTPUT);
    digitalWrite(MODAX_PIN_SAFETY_RELAY, LOW);  // stopped until the first check passes
  }
  analogReadResolution(12);
  analogSetAttenuation(ADC_11db);
  g_mpu_ok = mpu_begin();
  Serial.println(g_mpu_ok ? "modax: MPU6050 ready" : "modax: MPU6050 not found");

  xTaskCreatePinnedToCore(sensor_task, "modax-sensors", 6144, nullptr, 3, nullptr, 1);

  if (MODAX_WIFI_SSID[0] == '\0' || MODAX_MQTT_HOST[0] == '\0') {
    Serial.println("modax: no WiFi/MQTT settings: copy include/config.example.h to "
                   "include/config.h (or use build flags); sampling without publishing");
    return;
  }
#if MODAX_MQTT_TLS
  if (MODAX_MQTT_CA_CERT[0] == '\0') {
    Serial.println("modax: MODAX_MQTT_TLS needs MODAX_MQTT_CA_CERT; not connecting");
    return;
  }
  g_net.setCACert(MODAX_MQTT_CA_CERT);
#endif
  g_mqtt.setServer(MODAX_MQTT_HOST, MODAX_MQTT_PORT);
  g_mqtt.setBufferSize(kPayloadSize);
  g_mqtt.setKeepAlive(15);
  g_mqtt.setSocketTimeout(5);
  g_mqtt.setCallback(on_command);
  Serial.printf("modax: mqtt %s:%d%s\n", MODAX_MQTT_HOST, MODAX_MQTT_PORT,
                MODAX_MQTT_TLS ? " (TLS)" : "");
  WiFi.mode(WIFI_STA);
  WiFi.setAutoReconnect(true);
  WiFi.begin(MODAX_WIFI_SSID, MODAX_WIFI_PASSWORD, MODAX_WIFI_CHANNEL);
}

void loop() {
  const std::int64_t now = mono_ms();
  if (MODAX_WIFI_SSID[0] != '\0' && MODAX_MQTT_HOST[0] != '\0') {
    keep_time(now);
    keep_mqtt(now);
  }
  if (g_mqtt.connected()) {
    g_mqtt.loop();
    for (int i = 0; i < kDrainPerLoop && time_settled(now) && send_one(); ++i) {
    }
    if (now - g_last_heartbeat_ms >= kHeartbeatMs && publish_status(now)) {
      g_last_heartbeat_ms = now;
    }
  }
  std::size_t waiting;
  std::uint32_t dropped;
  outbox_counts(&waiting, &dropped);
  if (dropped != g_dropped_reported) {
    Serial.printf("modax: offline buffer full, %u messages lost so far\n",
                  static_cast<unsigned>(dropped));
    g_dropped_reported = dropped;
  }
  delay(5);
}
