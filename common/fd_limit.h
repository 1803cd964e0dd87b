// Open-file limit for daemons that hold descriptors per task or per client.
//
// An agent holds a few descriptors per task (log FIFOs, log files, pidfd),
// lockd one or more per client connection, and a swarm of simulated agents
// all of those for thousands of nodes in one process. The soft limit a
// shell hands out (often 1,024) is far below what the kernel allows, so
// daemons raise it at start, as systemd's LimitNOFILE would.
#ifndef BERTH_COMMON_FD_LIMIT_H_
#define BERTH_COMMON_FD_LIMIT_H_

#include <cstdint>

#include "absl/status/statusor.h"

namespace berth {

// Raises RLIMIT_NOFILE's soft limit to at least `want` descriptors where
// possible: up to the hard limit, and, with CAP_SYS_RESOURCE (root), the
// hard limit too, up to /proc/sys/fs/nr_open. Never lowers a limit.
// Returns the soft limit in force afterwards; an error only when the limit
// cannot be read.
absl::StatusOr<uint64_t> RaiseOpenFileLimit(uint64_t want);

}  // namespace berth

#endif  // BERTH_COMMON_FD_LIMIT_H_
