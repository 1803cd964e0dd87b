#include "cli/commands/bench_proc.h"

#include <unistd.h>

#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace berth::cli {

namespace {

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

absl::StatusOr<int64_t> ParseStatCpuTicks(absl::string_view stat) {
  const size_t paren = stat.rfind(')');
  if (paren == absl::string_view::npos) {
    return absl::InvalidArgumentError("/proc stat text has no \"(comm)\"");
  }
  // After "pid (comm) " come state (field 3) ... utime (14), stime (15).
  std::vector<absl::string_view> f =
      absl::StrSplit(stat.substr(paren + 1), ' ', absl::SkipEmpty());
  constexpr size_t kUtime = 14 - 3, kStime = 15 - 3;
  if (f.size() <= kStime) {
    return absl::InvalidArgumentError(
        absl::StrCat("/proc stat text has ", f.size() + 2,
                     " fields; utime and stime need 15"));
  }
  int64_t utime = 0, stime = 0;
  if (!absl::SimpleAtoi(f[kUtime], &utime) ||
      !absl::SimpleAtoi(f[kStime], &stime)) {
    return absl::InvalidArgumentError(
        absl::StrCat("/proc stat utime/stime are not numbers: \"", f[kUtime],
                     "\" \"", f[kStime], "\""));
  }
  return utime + stime;
}

absl::StatusOr<int64_t> ParseVmHwmKb(absl::string_view status) {
  for (absl::string_view line : absl::StrSplit(status, '\n')) {
    if (!absl::ConsumePrefix(&line, "VmHWM:")) continue;
    line = absl::StripAsciiWhitespace(line);
    if (!absl::ConsumeSuffix(&line, "kB")) {
      return absl::InvalidArgumentError(
          absl::StrCat("VmHWM line is not in kB: \"", line, "\""));
    }
    int64_t kb = 0;
    if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(line), &kb)) {
      return absl::InvalidArgumentError(
          absl::StrCat("VmHWM value is not a number: \"", line, "\""));
    }
    return kb;
  }
  return absl::NotFoundError("/proc status text has no VmHWM line");
}

absl::StatusOr<std::vector<int>> ParsePidList(absl::string_view text) {
  std::vector<int> pids;
  for (absl::string_view part : absl::StrSplit(text, ',')) {
    int pid = 0;
    if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(part), &pid) || pid <= 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "invalid value \"", text, "\" for --server-pids: \"", part,
          "\" is not a process id (expected e.g. 1201,1202,1203)"));
    }
    pids.push_back(pid);
  }
  return pids;
}

absl::StatusOr<ProcSample> ReadProc(int pid) {
  const std::string dir = absl::StrCat("/proc/", pid, "/");
  auto stat = ReadFile(dir + "stat");
  if (!stat.ok()) return stat.status();
  auto status = ReadFile(dir + "status");
  if (!status.ok()) return status.status();
  auto ticks = ParseStatCpuTicks(*stat);
  if (!ticks.ok()) return ticks.status();
  auto hwm = ParseVmHwmKb(*status);
  if (!hwm.ok()) return hwm.status();
  ProcSample s;
  s.cpu_seconds = static_cast<double>(*ticks) / sysconf(_SC_CLK_TCK);
  s.peak_rss_kb = *hwm;
  return s;
}

absl::StatusOr<ProcSample> ReadProcs(const std::vector<int>& pids) {
  ProcSample total;
  for (int pid : pids) {
    auto s = ReadProc(pid);
    if (!s.ok()) return s.status();
    total.cpu_seconds += s->cpu_seconds;
    total.peak_rss_kb += s->peak_rss_kb;
  }
  return total;
}

}  // namespace berth::cli
