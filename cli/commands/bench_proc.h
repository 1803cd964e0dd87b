// Server-side cost of a bench run, read from /proc/<pid> of the server
// processes (`berth bench --server-pids`): CPU seconds used during the run
// and peak resident memory (VmHWM, the process's lifetime peak).
//
// Thread safety: free functions, no shared state.
#ifndef BERTH_CLI_COMMANDS_BENCH_PROC_H_
#define BERTH_CLI_COMMANDS_BENCH_PROC_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace berth::cli {

struct ProcSample {
  double cpu_seconds = 0;   // user + system
  int64_t peak_rss_kb = 0;  // VmHWM
};

// utime + stime, in clock ticks, from the text of /proc/<pid>/stat. The
// command name (field 2) may hold spaces and parentheses, so fields are
// counted from the last ')'.
absl::StatusOr<int64_t> ParseStatCpuTicks(absl::string_view stat);
// VmHWM in KiB from the text of /proc/<pid>/status.
absl::StatusOr<int64_t> ParseVmHwmKb(absl::string_view status);
// "12,34" -> {12, 34}; names the bad element otherwise.
absl::StatusOr<std::vector<int>> ParsePidList(absl::string_view text);

// Reads both files of `pid`.
absl::StatusOr<ProcSample> ReadProc(int pid);
// The sum over `pids`.
absl::StatusOr<ProcSample> ReadProcs(const std::vector<int>& pids);

}  // namespace berth::cli

#endif  // BERTH_CLI_COMMANDS_BENCH_PROC_H_
