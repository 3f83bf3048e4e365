// The vector harness itself: it passes a known-good vector and catches every kind of mismatch.
#include <string>

#include "check.h"
#include "vectors.h"

#ifndef MODAX_FIXTURES_DIR
#define MODAX_FIXTURES_DIR "host/fixtures"
#endif

namespace {

json::Value smoke() { return json::parse_file(MODAX_FIXTURES_DIR "/safety_smoke.json"); }

json::Value& member(json::Value& object, const std::string& key) {
  for (auto& m : object.members) {
    if (m.first == key) return m.second;
  }
  throw std::runtime_error("no " + key);
}

}  // namespace

TEST_CASE(harness_accepts_a_matching_vector) {
  const std::vector<std::string> problems = vectors::check_safety(smoke());
  CHECK(problems.empty());
  for (const std::string& p : problems) check::fail(__FILE__, __LINE__, p);
}

TEST_CASE(harness_catches_a_wrong_flag) {
  json::Value v = smoke();
  member(member(v, "expected").items[3], "sensor_stuck").boolean = true;
  CHECK_EQ(vectors::check_safety(v).size(), std::size_t(1));
}

TEST_CASE(harness_catches_a_wrong_event) {
  json::Value v = smoke();
  member(member(v, "events").items[1], "index").text = "3";
  CHECK(!vectors::check_safety(v).empty());
  json::Value w = smoke();
  json::Value& value = member(member(w, "events").items[0], "value");
  value.number = 10.4;
  value.text = "10.4";
  CHECK(!vectors::check_safety(w).empty());
  json::Value missing = smoke();
  member(missing, "events").items.pop_back();
  CHECK(!vectors::check_safety(missing).empty());
}

TEST_CASE(harness_catches_a_wrong_payload) {
  json::Value v = json::parse(R"({"device_id": "m1", "messages": [
    {"kind": "status", "online": false,
     "expected": {"topic": "modax/devices/m1/status", "payload": "{\"device_id\":\"m1\",\"online\":false}"}},
    {"kind": "status", "online": true,
     "expected": {"topic": "modax/devices/m1/status", "payload": "{\"device_id\":\"m1\",\"online\":false}"}},
    {"kind": "safety", "timestamp": -1, "seq": 0, "state": {"emergency_stop": false,
     "door_closed": true, "overload_detected": false, "temperature_ok": true},
     "expected": {"error": "negative_value:timestamp"}}
  ]})");
  const std::vector<std::string> problems = vectors::check_payloads(v);
  CHECK_EQ(problems.size(), std::size_t(1));
  CHECK(!problems.empty() && problems[0].rfind("message 1:", 0) == 0);
}

TEST_CASE(json_reader_keeps_numbers_exact) {
  const json::Value v = json::parse(R"({"a": [0.1, -2.5e-3, 1700000000123, 9007199254740993],
                                        "s": "\u00b0C \"q\"", "t": true, "n": null})");
  CHECK_EQ(v.at("a").items[0].as_double(), 0.1);
  CHECK_EQ(v.at("a").items[1].as_double(), -0.0025);
  CHECK_EQ(v.at("a").items[2].as_int(), std::int64_t(1700000000123));
  CHECK_EQ(v.at("a").items[3].as_int(), std::int64_t(9007199254740993));
  CHECK_EQ(v.at("s").as_string(), std::string("\xc2\xb0" "C \"q\""));
  CHECK(v.at("t").as_bool());
  CHECK(v.at("n").is_null());
  bool threw = false;
  try {
    json::parse("{\"a\": [1, 2,]}");
  } catch (const std::runtime_error&) {
    threw = true;
  }
  CHECK(threw);
}
