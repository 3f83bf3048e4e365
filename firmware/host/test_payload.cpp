#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "check.h"
#include "modax_core.h"

namespace {

modax::Reading sample() {
  modax::Reading r;
  r.n_currents = 2;
  r.currents_a[0] = 4.2;
  r.currents_a[1] = 4.1;
  r.n_temperatures = 1;
  r.temperatures_c[0] = 41.5;
  r.vibration = {0.1, -0.2, 9.81, 9.813};
  return r;
}

std::string format(double value) {
  char buf[32];
  const std::size_t n = modax::format_double(buf, sizeof buf, value);
  return std::string(buf, n);
}

}  // namespace

TEST_CASE(telemetry_payload_is_exactly_the_contract) {
  char buf[512];
  const modax::PayloadResult r =
      modax::build_telemetry(buf, sizeof buf, "m1", 1700000000000, 42, sample());
  CHECK(r.ok());
  CHECK_EQ(std::string(buf, r.length),
           "{\"timestamp\":1700000000000,\"device_id\":\"m1\",\"motor_currents\":[4.2,4.1],"
           "\"vibration\":{\"x\":0.1,\"y\":-0.2,\"z\":9.81,\"magnitude\":9.813},"
           "\"temperatures\":[41.5],\"seq\":42}");
  CHECK_EQ(std::strlen(buf), r.length);
}

TEST_CASE(numbers_round_trip_in_their_shortest_form) {
  CHECK_EQ(format(4.2), "4.2");
  CHECK_EQ(format(10.0), "10");
  CHECK_EQ(format(-0.0), "0");
  CHECK_EQ(format(0.1 + 0.2), "0.30000000000000004");
  CHECK_EQ(format(1e-7), "1e-07");
  CHECK_EQ(format(16.5), "16.5");
  CHECK_EQ(format(std::numeric_limits<double>::infinity()), "");
  CHECK_EQ(format(std::nan("")), "");
  for (double v : {3.141592653589793, -123.456, 1.0 / 3.0, 9.80665 * 4096 / 4096}) {
    CHECK_EQ(std::strtod(format(v).c_str(), nullptr), v);
  }
}

TEST_CASE(non_finite_values_are_refused_with_their_field) {
  char buf[512];
  modax::Reading r = sample();
  r.currents_a[1] = std::numeric_limits<double>::infinity();
  modax::PayloadResult result = modax::build_telemetry(buf, sizeof buf, "m1", 0, 0, r);
  CHECK(result.error == modax::PayloadError::kNonFinite);
  CHECK_EQ(std::string(result.field), "motor_currents[1]");
  r = sample();
  r.vibration.magnitude = std::nan("");
  result = modax::build_telemetry(buf, sizeof buf, "m1", 0, 0, r);
  CHECK(result.error == modax::PayloadError::kNonFinite);
  CHECK_EQ(std::string(result.field), "vibration.magnitude");
}

TEST_CASE(values_beyond_the_sensor_range_are_refused) {
  char buf[512];
  modax::Reading r = sample();
  r.temperatures_c[0] = 200.01;
  modax::PayloadResult result = modax::build_telemetry(buf, sizeof buf, "m1", 0, 0, r);
  CHECK(result.error == modax::PayloadError::kOutOfRange);
  CHECK_EQ(std::string(result.field), "temperatures[0]");
  r = sample();
  r.vibration.y = -200.5;
  result = modax::build_telemetry(buf, sizeof buf, "m1", 0, 0, r);
  CHECK_EQ(std::string(result.field), "vibration.y");
  r = sample();
  r.n_temperatures = 0;
  result = modax::build_telemetry(buf, sizeof buf, "m1", 0, 0, r);
  CHECK(result.error == modax::PayloadError::kBadLength);
  CHECK_EQ(std::string(result.field), "temperatures");
}

TEST_CASE(device_ids_follow_the_pattern) {
  CHECK(modax::valid_device_id("press-07.line_2"));
  CHECK(!modax::valid_device_id(""));
  CHECK(!modax::valid_device_id("a/b"));
  CHECK(!modax::valid_device_id("m 1"));
  CHECK(modax::valid_device_id(std::string(64, 'x').c_str()));
  CHECK(!modax::valid_device_id(std::string(65, 'x').c_str()));
  char buf[256];
  const modax::PayloadResult r = modax::build_safety(buf, sizeof buf, "a\"b", 0, 0, {});
  CHECK(r.error == modax::PayloadError::kInvalidDeviceId);
}

TEST_CASE(negative_timestamps_and_seq_are_refused) {
  char buf[512];
  CHECK_EQ(std::string(modax::build_telemetry(buf, sizeof buf, "m1", -1, 0, sample()).field),
           "timestamp");
  CHECK_EQ(std::string(modax::build_safety(buf, sizeof buf, "m1", 0, -5, {}).field), "seq");
}

TEST_CASE(a_small_buffer_is_an_error_not_a_truncated_payload) {
  char buf[40];
  const modax::PayloadResult r = modax::build_telemetry(buf, sizeof buf, "m1", 0, 0, sample());
  CHECK(r.error == modax::PayloadError::kBufferTooSmall);
  CHECK_EQ(r.length, std::size_t(0));
}

TEST_CASE(safety_and_status_payloads) {
  char buf[256];
  modax::DeviceSafety s;
  s.emergency_stop = true;
  modax::PayloadResult r = modax::build_safety(buf, sizeof buf, "m1", 1500, 3, s);
  CHECK_EQ(std::string(buf, r.length),
           "{\"timestamp\":1500,\"device_id\":\"m1\",\"emergency_stop\":true,"
           "\"door_closed\":true,\"overload_detected\":false,\"temperature_ok\":true,\"seq\":3}");
  r = modax::build_status(buf, sizeof buf, "m1", false);
  CHECK_EQ(std::string(buf, r.length), "{\"device_id\":\"m1\",\"online\":false}");
  modax::StatusInfo info;
  info.timestamp_ms = 1700000000000;
  info.firmware_version = "0.1.0 \"beta\"";
  info.uptime_ms = 0;
  r = modax::build_status(buf, sizeof buf, "m1", true, info);
  CHECK_EQ(std::string(buf, r.length),
           "{\"device_id\":\"m1\",\"online\":true,\"timestamp\":1700000000000,"
           "\"firmware_version\":\"0.1.0 \\\"beta\\\"\",\"uptime_ms\":0}");
}

TEST_CASE(topics_are_per_device) {
  char buf[64];
  CHECK_EQ(modax::topic_for(buf, sizeof buf, "m1", "telemetry"), std::size_t(26));
  CHECK_EQ(std::string(buf), "modax/devices/m1/telemetry");
  char tiny[8];
  CHECK_EQ(modax::topic_for(tiny, sizeof tiny, "m1", "safety"), std::size_t(0));
}

TEST_CASE(sensors_at_every_rail_still_make_valid_json) {
  // The original firmware printed `inf` for a full-scale thermistor reading.
  const modax::AdcConfig adc;
  for (int counts : {0, 1, 4094, 4095}) {
    modax::Reading r;
    r.n_currents = 2;
    r.currents_a[0] = modax::acs712_current_a(counts, adc, {});
    r.currents_a[1] = modax::acs712_current_a(4095 - counts, adc, {});
    r.n_temperatures = 1;
    r.temperatures_c[0] = modax::ntc_temperature(counts, adc, {}).celsius;
    r.vibration.x = modax::mpu6050_accel_ms2(32767, modax::AccelRange::k16g);
    r.vibration.y = modax::mpu6050_accel_ms2(-32768, modax::AccelRange::k16g);
    r.vibration.z = modax::mpu6050_accel_ms2(-32768, modax::AccelRange::k16g);
    char buf[512];
    const modax::PayloadResult result =
        modax::build_telemetry(buf, sizeof buf, "m1", 0, 0, modax::quantized(r));
    CHECK(result.ok());
    const std::string text(buf, result.length);
    CHECK(text.find("inf") == std::string::npos);
    CHECK(text.find("nan") == std::string::npos);
  }
}
