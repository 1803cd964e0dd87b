// Strict parsers for flag values, with errors that name the flag, the value
// and what was expected.
//
// Thread safety: stateless functions.
#ifndef BERTH_CLI_FLAGS_H_
#define BERTH_CLI_FLAGS_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace berth::cli {

// A positive duration with a unit: "500ms", "10s", "2m", "1h30m".
// Rejects bare numbers, signs, "inf" and zero.
absl::StatusOr<absl::Duration> ParseDurationFlag(absl::string_view flag,
                                                 absl::string_view text);

// A duration that is a whole number of seconds, at least 1s (lease TTLs).
absl::StatusOr<absl::Duration> ParseTtlFlag(absl::string_view flag,
                                            absl::string_view text);

// A lease id: decimal, or hexadecimal with a 0x prefix (as in holder keys).
absl::StatusOr<int64_t> ParseLeaseId(absl::string_view flag,
                                     absl::string_view text);

// A member id: unsigned decimal, or hexadecimal with 0x.
absl::StatusOr<uint64_t> ParseMemberId(absl::string_view flag,
                                       absl::string_view text);

// A non-negative integer (revisions, counts).
absl::StatusOr<int64_t> ParseCount(absl::string_view flag,
                                   absl::string_view text);

}  // namespace berth::cli

#endif  // BERTH_CLI_FLAGS_H_
