#include "common/fd_limit.h"

#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <fstream>

#include "absl/status/status.h"

namespace berth {
namespace {

// The kernel's ceiling for any process's RLIMIT_NOFILE.
uint64_t NrOpen() {
  std::ifstream in("/proc/sys/fs/nr_open");
  uint64_t v = 0;
  if (in >> v && v > 0) return v;
  return 1u << 20;  // the kernel default
}

}  // namespace

absl::StatusOr<uint64_t> RaiseOpenFileLimit(uint64_t want) {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) {
    return absl::ErrnoToStatus(errno, "getrlimit(RLIMIT_NOFILE)");
  }
  if (lim.rlim_cur != RLIM_INFINITY && lim.rlim_cur >= want) {
    return lim.rlim_cur;
  }
  if (lim.rlim_max != RLIM_INFINITY && lim.rlim_max < want) {
    // Only a privileged process may raise the hard limit; try, and fall
    // back to the old hard limit when refused.
    rlimit raised{};
    raised.rlim_max = std::min<uint64_t>(want, NrOpen());
    raised.rlim_cur = raised.rlim_max;
    if (raised.rlim_max > lim.rlim_max &&
        setrlimit(RLIMIT_NOFILE, &raised) == 0) {
      return raised.rlim_cur;
    }
  }
  rlimit soft = lim;
  soft.rlim_cur = lim.rlim_max == RLIM_INFINITY
                      ? want
                      : std::min<uint64_t>(want, lim.rlim_max);
  if (soft.rlim_cur > lim.rlim_cur && setrlimit(RLIMIT_NOFILE, &soft) != 0) {
    return absl::ErrnoToStatus(errno, "setrlimit(RLIMIT_NOFILE)");
  }
  getrlimit(RLIMIT_NOFILE, &lim);
  return lim.rlim_cur;
}

}  // namespace berth
