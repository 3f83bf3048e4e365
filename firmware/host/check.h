// A minimal test framework for the host tests: TEST_CASE, CHECK, CHECK_EQ, CHECK_NEAR.
#pragma once

#include <cmath>
#include <sstream>
#include <string>
#include <vector>

namespace check {

struct Case {
  const char* name;
  void (*run)();
};

inline std::vector<Case>& cases() {
  static std::vector<Case> all;
  return all;
}

/// Failures of the case now running.
inline std::vector<std::string>& failures() {
  static std::vector<std::string> current;
  return current;
}

struct Register {
  Register(const char* name, void (*run)()) { cases().push_back({name, run}); }
};

inline void fail(const char* file, int line, const std::string& what) {
  std::ostringstream s;
  s << file << ":" << line << ": " << what;
  failures().push_back(s.str());
}

template <typename A, typename B>
void equal(const A& a, const B& b, const char* text, const char* file, int line) {
  if (a == b) return;
  std::ostringstream s;
  s.precision(17);
  s << text << ": " << a << " != " << b;
  fail(file, line, s.str());
}

inline void near(double a, double b, double tolerance, const char* text, const char* file,
                 int line) {
  if (std::fabs(a - b) <= tolerance) return;
  std::ostringstream s;
  s.precision(17);
  s << text << ": " << a << " is not within " << tolerance << " of " << b;
  fail(file, line, s.str());
}

}  // namespace check

#define TEST_CASE(name)                                     \
  static void name();                                       \
  static const check::Register name##_registration(#name, name); \
  static void name()

#define CHECK(condition) \
  ((condition) ? (void)0 : check::fail(__FILE__, __LINE__, "CHECK(" #condition ")"))
#define CHECK_EQ(a, b) check::equal((a), (b), #a " == " #b, __FILE__, __LINE__)
#define CHECK_NEAR(a, b, tolerance) \
  check::near((a), (b), (tolerance), #a " ≈ " #b, __FILE__, __LINE__)
