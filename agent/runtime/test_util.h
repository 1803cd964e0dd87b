// Helpers shared by the runtime tests that start real processes.
#ifndef BERTH_AGENT_RUNTIME_TEST_UTIL_H_
#define BERTH_AGENT_RUNTIME_TEST_UTIL_H_

#include <signal.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace berth::agent::testing {

// Upper bound for any one wait; tests never depend on it being tight.
inline constexpr absl::Duration kDeadline = absl::Seconds(30);

inline std::string MakeTempDir() {
  std::string tmpl =
      (std::filesystem::temp_directory_path() / "berth-runtime-XXXXXX")
          .string();
  return mkdtemp(tmpl.data());
}

inline std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Polls `cond` until it holds or kDeadline passes.
inline bool WaitFor(const std::function<bool()>& cond) {
  absl::Time deadline = absl::Now() + kDeadline;
  while (!cond()) {
    if (absl::Now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

// Pids printed one per line into `path`, once `n` of them are there.
inline std::vector<pid_t> ReadPids(const std::string& path, size_t n) {
  std::vector<pid_t> pids;
  WaitFor([&] {
    pids.clear();
    for (absl::string_view line : absl::StrSplit(Slurp(path), '\n')) {
      pid_t p;
      if (absl::SimpleAtoi(line, &p)) pids.push_back(p);
    }
    return pids.size() >= n;
  });
  return pids;
}

// True when `pid` is gone or a zombie.
inline bool Dead(pid_t pid) {
  std::string stat = Slurp("/proc/" + std::to_string(pid) + "/stat");
  if (stat.empty()) return true;
  size_t close = stat.rfind(')');
  return close != std::string::npos && close + 2 < stat.size() &&
         (stat[close + 2] == 'Z' || stat[close + 2] == 'X');
}

}  // namespace berth::agent::testing

#endif  // BERTH_AGENT_RUNTIME_TEST_UTIL_H_
