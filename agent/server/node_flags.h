// Parsing of berth-agent's capacity and label flags, and detection of the
// host's capacity when they are not given. Pure functions apart from the
// Detect* ones, which read /proc. Errors name the flag and the bad text.
#ifndef BERTH_AGENT_SERVER_NODE_FLAGS_H_
#define BERTH_AGENT_SERVER_NODE_FLAGS_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace berth::agent {

// "2000m" -> 2000, "2" -> 2000, "1.5" -> 1500.
absl::StatusOr<int64_t> ParseCpuMillicores(absl::string_view text);
// "4GiB", "512MiB", "64KiB", "1G" (decimal), "1000" (bytes).
absl::StatusOr<int64_t> ParseBytes(absl::string_view text);
// "zone=a,disk=ssd" -> {zone: a, disk: ssd}; "" -> {}.
absl::StatusOr<std::map<std::string, std::string>> ParseLabels(
    absl::string_view text);

int64_t DetectCpuMillicores();
int64_t DetectMemoryBytes();  // MemTotal; 0 if unreadable
int64_t DetectPidsMax();      // kernel.pid_max; 0 if unreadable

// Where an agent with `data_dir` keeps its tasks' log FIFOs by default:
// <run>/berth-agent/<data_dir, '/' escaped as %2F> under the first of
// `run_dirs` that is a memory filesystem (tmpfs), else "" (the FIFOs stay
// in the data dir). The name depends only on the data dir, so a restarted
// agent finds the FIFOs its adopted tasks still write to, and two agents
// on a host never share one.
std::string DefaultFifoDir(const std::string& data_dir,
                           const std::vector<std::string>& run_dirs = {
                               "/run", "/dev/shm"});
// Creates `dir` (mode 0700) and checks that its parent and it are real
// directories owned by this user and writable by nobody else: under a
// world-writable /dev/shm another user could have made them first.
absl::Status MakePrivateDir(const std::string& dir);

}  // namespace berth::agent

#endif  // BERTH_AGENT_SERVER_NODE_FLAGS_H_
