// Host test runner: every TEST_CASE, then every shared vector in the vectors directory
// (argument 1, default: the firmware/vectors of this checkout). Ends with "N passed, N failed".
#include <cstdio>
#include <string>

#include "check.h"
#include "vectors.h"

#ifndef MODAX_VECTORS_DIR
#define MODAX_VECTORS_DIR "vectors"
#endif

namespace {

int passed = 0;
int failed = 0;

void record(const std::string& name, const std::vector<std::string>& problems) {
  if (problems.empty()) {
    ++passed;
    return;
  }
  ++failed;
  std::printf("FAIL %s\n", name.c_str());
  for (const std::string& p : problems) std::printf("  %s\n", p.c_str());
}

void run_vectors(const std::string& directory, const std::string& prefix,
                 std::vector<std::string> (*check_one)(const json::Value&)) {
  for (const std::string& path : vectors::list(directory, prefix)) {
    std::vector<std::string> problems;
    try {
      problems = check_one(json::parse_file(path));
    } catch (const std::exception& e) {
      problems.push_back(e.what());
    }
    record(path, problems);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const std::string directory = argc > 1 ? argv[1] : MODAX_VECTORS_DIR;
  for (const check::Case& c : check::cases()) {
    check::failures().clear();
    try {
      c.run();
    } catch (const std::exception& e) {
      check::failures().push_back(std::string("exception: ") + e.what());
    }
    record(c.name, check::failures());
  }
  const int cases = passed + failed;
  run_vectors(directory, "safety_", vectors::check_safety);
  run_vectors(directory, "payload_", vectors::check_payloads);
  run_vectors(directory, "command_", vectors::check_commands);
  const int vectors_run = passed + failed - cases;
  std::printf("modax_core: %d unit tests, %d vectors from %s\n", cases, vectors_run,
              directory.c_str());
  if (vectors_run == 0) {
    std::printf("FAIL no vectors found in %s\n", directory.c_str());
    ++failed;
  }
  std::printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
