// Conversions between the scheduler's records and the agent's wire format,
// and the allocation lifecycle predicates every reconcile phase shares.
//
// Thread safety: pure functions.
#ifndef BERTH_SCHEDULER_RECONCILE_CONVERT_H_
#define BERTH_SCHEDULER_RECONCILE_CONVERT_H_

#include <cstdint>
#include <string>

#include "proto/agent.pb.h"
#include "proto/job.pb.h"

namespace berth::sched {

// What the agent on alloc.node() is asked to run. Environment: the job's
// env plus BERTH_ALLOC_ID, BERTH_JOB, BERTH_NAMESPACE, and
// BERTH_PORT_<NAME> for every assigned port.
agentpb::AllocationSpec ToAgentSpec(const jobpb::Job& job,
                                    const jobpb::Allocation& alloc,
                                    int64_t job_version);

// The agent reports a final state for this attempt.
bool IsTerminal(const agentpb::AllocationStatus& status);
// Live: not finished (no outcome recorded yet).
inline bool IsLive(const jobpb::Allocation& a) {
  return a.outcome().state() == jobpb::AllocOutcome::STATE_UNSPECIFIED;
}
inline bool WantsRun(const jobpb::Allocation& a) {
  return a.desired_state() == jobpb::Allocation::RUN;
}
// The outcome to record for a terminal status of `alloc`.
jobpb::AllocOutcome OutcomeFromStatus(const jobpb::Allocation& alloc,
                                      const agentpb::AllocationStatus& status);

// "<ns>/<job>" for messages.
std::string JobName(const jobpb::Job& job);

}  // namespace berth::sched

#endif  // BERTH_SCHEDULER_RECONCILE_CONVERT_H_
