// Job spec parsing: YAML text (one or more documents) to validated
// berth::jobpb::Job messages with every default filled in. The format is
// documented field by field in docs/jobspec.md.
//
// Pure and thread-compatible: no state, no exceptions escape (yaml-cpp's are
// caught and converted). The only I/O is ParseJobFile reading its file, and
// cron validation reading the system tzdb through berth::cron.
//
// Errors are InvalidArgument and name the file, document, field path, line
// and reason, e.g.
//   jobs.yaml: document 2 (job "crunch"), line 4: batch.parallelism: must be
//   >= 1, got 0
// Parsing stops at the first error.
#ifndef BERTH_SCHEDULER_SPEC_JOB_SPEC_H_
#define BERTH_SCHEDULER_SPEC_JOB_SPEC_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/job.pb.h"

namespace berth::sched {

// Current value written to Job.spec_version.
inline constexpr int kJobSpecVersion = 1;

// Parses every non-empty document of `yaml`. `filename` only labels errors.
// Fails when there is no job at all or two documents define the same
// namespace/name.
absl::StatusOr<std::vector<jobpb::Job>> ParseJobSpecs(
    std::string_view yaml, std::string_view filename);

// Reads `path` and parses it with ParseJobSpecs.
absl::StatusOr<std::vector<jobpb::Job>> ParseJobFile(const std::string& path);

// The spec_hash of `job` (computed with spec_hash cleared).
std::string JobSpecHash(const jobpb::Job& job);

}  // namespace berth::sched

#endif  // BERTH_SCHEDULER_SPEC_JOB_SPEC_H_
