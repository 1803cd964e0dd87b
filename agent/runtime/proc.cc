#include "agent/runtime/proc.h"

#include <poll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace berth::agent {
namespace {

absl::Status Errno(const std::string& what) {
  return absl::ErrnoToStatus(errno, what);
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// /proc/<pid>/stat fields after the parenthesised command name, which may
// itself contain spaces and parentheses.
absl::StatusOr<std::vector<std::string>> StatFields(pid_t pid) {
  absl::StatusOr<std::string> stat =
      ReadFile(absl::StrCat("/proc/", pid, "/stat"));
  if (!stat.ok()) return stat.status();
  size_t close = stat->rfind(')');
  if (close == std::string::npos || close + 2 > stat->size()) {
    return absl::InternalError(absl::StrCat("malformed /proc/", pid, "/stat"));
  }
  // Index 0 here is field 3 (state).
  return std::vector<std::string>(
      absl::StrSplit(stat->substr(close + 2), ' ', absl::SkipEmpty()));
}

}  // namespace

Fd& Fd::operator=(Fd&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.Release();
  }
  return *this;
}

Fd::~Fd() {
  if (fd_ >= 0) ::close(fd_);
}

int Fd::Release() {
  int fd = fd_;
  fd_ = -1;
  return fd;
}

absl::StatusOr<Fd> OpenPidfd(pid_t pid) {
  int fd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (fd < 0) return Errno(absl::StrCat("pidfd_open(", pid, ")"));
  return Fd(fd);
}

absl::StatusOr<bool> WaitReadable(int fd, absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  while (true) {
    absl::Duration left = deadline - absl::Now();
    if (left < absl::ZeroDuration()) left = absl::ZeroDuration();
    int ms = static_cast<int>(std::min<int64_t>(
        absl::ToInt64Milliseconds(absl::Ceil(left, absl::Milliseconds(1))),
        1 << 30));
    struct pollfd p = {fd, POLLIN, 0};
    int n = ::poll(&p, 1, ms);
    if (n > 0) return true;
    if (n == 0 && left == absl::ZeroDuration()) return false;
    if (n < 0 && errno != EINTR) return Errno("poll(pidfd)");
  }
}

absl::StatusOr<uint64_t> ProcStartTicks(pid_t pid) {
  absl::StatusOr<std::vector<std::string>> f = StatFields(pid);
  if (!f.ok()) return f.status();
  uint64_t ticks = 0;
  if (f->size() < 20 || !absl::SimpleAtoi((*f)[19], &ticks)) {
    return absl::InternalError(
        absl::StrCat("no starttime in /proc/", pid, "/stat"));
  }
  return ticks;
}

bool SameLiveProcess(pid_t pid, uint64_t start_ticks) {
  absl::StatusOr<std::vector<std::string>> f = StatFields(pid);
  if (!f.ok() || f->size() < 20) return false;
  uint64_t ticks = 0;
  if (!absl::SimpleAtoi((*f)[19], &ticks) || ticks != start_ticks) return false;
  return (*f)[0] != "Z" && (*f)[0] != "X";
}

absl::StatusOr<Usage> ProcessUsage(pid_t pid) {
  absl::StatusOr<std::vector<std::string>> f = StatFields(pid);
  if (!f.ok()) return f.status();
  uint64_t utime = 0, stime = 0, threads = 0;
  int64_t rss_pages = 0;
  if (f->size() < 22 || !absl::SimpleAtoi((*f)[11], &utime) ||
      !absl::SimpleAtoi((*f)[12], &stime) ||
      !absl::SimpleAtoi((*f)[17], &threads) ||
      !absl::SimpleAtoi((*f)[21], &rss_pages)) {
    return absl::InternalError(absl::StrCat("malformed /proc/", pid, "/stat"));
  }
  Usage u;
  const uint64_t hz = static_cast<uint64_t>(sysconf(_SC_CLK_TCK));
  u.cpu_ns = (utime + stime) * (1'000'000'000ull / hz);
  u.memory_bytes =
      static_cast<uint64_t>(rss_pages) * static_cast<uint64_t>(getpagesize());
  u.pids = threads;
  absl::StatusOr<std::string> status =
      ReadFile(absl::StrCat("/proc/", pid, "/status"));
  if (status.ok()) {
    for (absl::string_view line : absl::StrSplit(*status, '\n')) {
      if (!absl::ConsumePrefix(&line, "VmHWM:")) continue;
      uint64_t kb = 0;
      line = absl::StripAsciiWhitespace(line);
      absl::ConsumeSuffix(&line, " kB");
      if (absl::SimpleAtoi(line, &kb)) u.memory_peak_bytes = kb * 1024;
    }
  }
  return u;
}

ExitStatus DecodeWaitStatus(int wstatus) {
  if (WIFEXITED(wstatus)) return ExitStatus::Exited(WEXITSTATUS(wstatus));
  if (WIFSIGNALED(wstatus)) return ExitStatus::Killed(WTERMSIG(wstatus));
  return ExitStatus::Failed(absl::StrCat("unexpected wait status ", wstatus));
}

}  // namespace berth::agent
