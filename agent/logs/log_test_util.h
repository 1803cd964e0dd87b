// Helpers for the log tests.
#ifndef BERTH_AGENT_LOGS_LOG_TEST_UTIL_H_
#define BERTH_AGENT_LOGS_LOG_TEST_UTIL_H_

#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/time/time.h"

namespace berth::agent::testing {

// Upper bound for any one wait; tests never depend on it being tight.
inline constexpr absl::Duration kDeadline = absl::Seconds(60);

inline std::string MakeTempDir() {
  std::string tmpl =
      (std::filesystem::temp_directory_path() / "berth-logs-XXXXXX").string();
  return mkdtemp(tmpl.data());
}

inline std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline bool Exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

inline uint64_t SizeOf(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

}  // namespace berth::agent::testing

#endif  // BERTH_AGENT_LOGS_LOG_TEST_UTIL_H_
