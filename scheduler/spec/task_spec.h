// Parsers for the task template and constraint sections of a job spec.
// Internal to scheduler/spec; errors follow yaml_fields.h.
#ifndef BERTH_SCHEDULER_SPEC_TASK_SPEC_H_
#define BERTH_SCHEDULER_SPEC_TASK_SPEC_H_

#include "absl/status/status.h"
#include "proto/job.pb.h"
#include "scheduler/spec/yaml_fields.h"

namespace berth::sched::spec_internal {

// True for RFC 1123 labels: [a-z0-9]([-a-z0-9]*[a-z0-9])?, at most 63 chars.
bool IsDnsLabel(absl::string_view s);

// Parses `task:`; kind-dependent defaults and rules (restart policy, health,
// timeout) come from `kind`.
absl::Status ParseTask(const Value& v, jobpb::Kind kind,
                       jobpb::TaskTemplate* out);

// Parses the `constraints:` list.
absl::Status ParseConstraints(const Value& v, jobpb::Job* job);

}  // namespace berth::sched::spec_internal

#endif  // BERTH_SCHEDULER_SPEC_TASK_SPEC_H_
