// AllocRecord: what the agent remembers about one allocation across its own
// restarts. Plain data; no invariants beyond those documented per field.
#ifndef BERTH_AGENT_STORE_ALLOC_RECORD_H_
#define BERTH_AGENT_STORE_ALLOC_RECORD_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "agent/runtime/runtime.h"

namespace berth::agent {

// Where an allocation is in its life on this node. Terminal states are
// exited, failed, oom_killed, killed and lost.
enum class AllocState {
  kPending,    // seen in the watch, not launched yet
  kStarting,   // Launch in progress; may have no TaskRecord yet
  kRunning,    // launched; `task` identifies the process
  kExited,     // ran to the end; exit_code is meaningful
  kFailed,     // could not be started or died for a reason in exit_reason
  kOomKilled,  // killed by the kernel for exceeding its memory limit
  kKilled,     // killed by a signal (exit_signal)
  kLost,       // found gone after an agent restart with no exit status
};

// "pending", "running", "oom_killed", ... (the names stored on disk).
absl::string_view AllocStateName(AllocState state);
// The inverse of AllocStateName; InvalidArgument naming `name` otherwise.
absl::StatusOr<AllocState> ParseAllocState(absl::string_view name);
bool IsTerminal(AllocState state);

struct AllocRecord {
  std::string alloc_id;  // primary key; must not be empty
  std::string job;
  // The full desired spec, opaque to the store (serialized proto bytes).
  std::string spec;
  AllocState state = AllocState::kPending;
  // Set once Launch returned; what a restarted agent needs to Adopt().
  std::optional<TaskRecord> task;
  int exit_code = 0;
  int exit_signal = 0;
  std::string exit_reason;
  int64_t attempt = 0;
  // absl::InfinitePast() means "not yet".
  absl::Time start_time = absl::InfinitePast();
  absl::Time finish_time = absl::InfinitePast();
  // Revision of the last status this agent reported for the allocation.
  int64_t reported_revision = 0;

  // Copies the runtime's verdict into state and the exit fields.
  void SetExit(const ExitStatus& status);
};

bool operator==(const AllocRecord& a, const AllocRecord& b);

}  // namespace berth::agent

#endif  // BERTH_AGENT_STORE_ALLOC_RECORD_H_
