// Reconcile: the agent's decision function. Given what the scheduler wants
// on this node (desired specs from lockd) and what the node has (local
// records plus what the runtime says about each task), it returns the
// actions that move the node toward the desired state. Pure: no I/O, no
// clock, so it is tested as a table (reconcile_test.cc).
//
// Policy it encodes:
//   * the agent runs what it is told and never restarts anything itself: a
//     desired RUN allocation that exited stays exited; the scheduler writes
//     a new attempt (higher `attempt`) to run it again;
//   * a higher attempt than the one recorded replaces the task (stop the old
//     one first, then launch);
//   * an allocation no longer under this node's prefix is stopped and then
//     forgotten (record, task, logs), without reporting status: the
//     scheduler has moved it and another node reports it now;
//   * until the desired set is known (lockd unreachable at start) the only
//     actions are recording exits: nothing is stopped on a guess.
#ifndef BERTH_AGENT_SERVER_RECONCILE_H_
#define BERTH_AGENT_SERVER_RECONCILE_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "agent/runtime/runtime.h"
#include "agent/store/alloc_record.h"
#include "proto/agent.pb.h"

namespace berth::agent {

// One local allocation as the agent sees it.
struct LocalAlloc {
  AllocRecord record;
  bool in_runtime = false;         // launched or adopted, not cleaned up
  std::optional<ExitStatus> exit;  // the runtime's verdict once exited
  bool stopping = false;           // a Stop is in flight
};

struct Action {
  enum class Kind {
    kLaunch,       // (re)launch the desired spec; replaces an old task
    kStop,         // SIGTERM, SIGKILL after the kill timeout
    kRecordExit,   // persist and report `exit`
    kMarkStopped,  // desired STOP before it ever ran: record it as killed
    kForget,       // clean up task, logs and record (no longer ours)
  };
  Kind kind;
  std::string alloc_id;
  std::optional<ExitStatus> exit;  // kRecordExit only

  friend bool operator==(const Action&, const Action&) = default;
};

// "launch(a1)", "record_exit(a1, exited(3))", ... for logs and tests.
std::string ToString(const Action& action);

// Actions in a stable order: by alloc id, and for one id a kRecordExit
// before whatever follows from it.
std::vector<Action> Reconcile(
    const std::map<std::string, agentpb::AllocationSpec>& desired,
    bool desired_known, const std::map<std::string, LocalAlloc>& local);

}  // namespace berth::agent

#endif  // BERTH_AGENT_SERVER_RECONCILE_H_
