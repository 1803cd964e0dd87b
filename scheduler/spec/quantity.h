// Strict parsers for the quantities that appear in job specs: cpu, memory
// and durations. Pure functions, safe from any thread.
//
// They reject anything not listed below (spaces, signs, repeated dots, unknown
// units, overflow) with InvalidArgument whose message states the accepted
// forms; callers prefix the field path and line.
#ifndef BERTH_SCHEDULER_SPEC_QUANTITY_H_
#define BERTH_SCHEDULER_SPEC_QUANTITY_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace berth::sched {

// "250m" (millicores), "1", "1.5", "0.125" (cores, at most 3 decimals).
absl::StatusOr<int64_t> ParseCpuMillicores(absl::string_view text);

// Plain bytes ("1048576", "512B"); binary units KiB MiB GiB TiB (also Ki Mi
// Gi Ti); decimal units KB MB GB TB. A fraction is allowed when the result
// is a whole number of bytes ("1.5GiB").
absl::StatusOr<int64_t> ParseMemoryBytes(absl::string_view text);

// One or more <digits><unit> groups, units ms s m h, each used at most once
// and from largest to smallest: "500ms", "2s", "10m", "1h30m". "0" without a
// unit is the only unitless value accepted.
absl::StatusOr<int64_t> ParseDurationMs(absl::string_view text);

}  // namespace berth::sched

#endif  // BERTH_SCHEDULER_SPEC_QUANTITY_H_
