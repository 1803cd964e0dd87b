// Pure helpers for addresses and keys: endpoint validation, the leader hint
// that replicas put in redirect errors, and prefix range ends.
//
// Thread safety: stateless functions, safe from any thread.
#ifndef BERTH_LOCKSERVICE_CLIENT_INTERNAL_ENDPOINTS_H_
#define BERTH_LOCKSERVICE_CLIENT_INTERNAL_ENDPOINTS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace berth::lock::internal {

// Checks that `endpoint` is "host:port" (IPv6 hosts in brackets) and returns
// it trimmed. The error names the endpoint and what is wrong with it.
absl::StatusOr<std::string> ValidateEndpoint(absl::string_view endpoint);

// Splits a comma-separated list ("a:1,b:2") and validates each entry.
// Duplicates are dropped; an empty list is an error.
absl::StatusOr<std::vector<std::string>> ParseEndpointList(
    absl::string_view spec);

// What a replica that is not the leader says about the leader. Replicas put
// "leader=<id>@<host:port>" in the message of UNAVAILABLE or
// FAILED_PRECONDITION errors; "leader=0@" (or no address) means that the
// replica knows no leader right now.
struct LeaderHint {
  uint64_t id = 0;
  std::string addr;  // empty when no leader is known
};

// Finds the hint in an error message; nullopt if the message has none, which
// means the error did not come from the not-leader path.
std::optional<LeaderHint> ParseLeaderHint(absl::string_view message);

// The smallest key greater than every key that starts with `prefix`, in the
// form RangeRequest.range_end wants: "\0" (all keys) when no such key exists.
std::string PrefixRangeEnd(absl::string_view prefix);

}  // namespace berth::lock::internal

#endif  // BERTH_LOCKSERVICE_CLIENT_INTERNAL_ENDPOINTS_H_
