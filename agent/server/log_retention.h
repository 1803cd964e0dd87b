// Keeps the logs of allocations the agent has forgotten (their key was
// deleted, e.g. a finished batch task that the scheduler cleaned up), so
// that `berth job logs` still shows them for a while.
//
// Forget leaves <allocs>/<id>/logs behind with a marker file
// <allocs>/<id>/forgotten holding the time (unix ms); everything else of
// the allocation (sandbox, FIFOs) goes at once. A sweep, run at each
// forget, deletes marked directories older than the retention, and the
// oldest beyond `max_kept`. A launch of the same id removes the marker.
//
// Thread safety: plain filesystem calls; the agent's loop thread calls them.
#ifndef BERTH_AGENT_SERVER_LOG_RETENTION_H_
#define BERTH_AGENT_SERVER_LOG_RETENTION_H_

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace berth::agent {

struct LogRetention {
  absl::Duration keep = absl::Hours(1);  // zero: delete at once
  size_t max_kept = 100;                 // forgotten allocations
};

// Removes everything of <allocs_dir>/<id> but its logs and marks it
// forgotten at `now`; with a zero retention removes it all.
absl::Status MarkForgotten(const std::string& allocs_dir, const std::string& id,
                           absl::Time now, const LogRetention& retention);
// The launch of `id` makes it live again.
void UnmarkForgotten(const std::string& allocs_dir, const std::string& id);
// Deletes forgotten allocations past the retention. Returns how many.
size_t SweepForgotten(const std::string& allocs_dir, absl::Time now,
                      const LogRetention& retention);

}  // namespace berth::agent

#endif  // BERTH_AGENT_SERVER_LOG_RETENTION_H_
