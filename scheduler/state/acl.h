// Namespace ACLs as the scheduler's mirror holds them: rights as bits, the
// grant table per namespace and principal, and whether enforcement is on.
// The decisions made from them live in scheduler/server/acl_policy.h; this
// file is only the data and its names.
//
// Thread safety: plain values.
#ifndef BERTH_SCHEDULER_STATE_ACL_H_
#define BERTH_SCHEDULER_STATE_ACL_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace berth::sched {

// One bit per right; a grant holds their union.
using Rights = uint32_t;
inline constexpr Rights kRightRead = 1;
inline constexpr Rights kRightSubmit = 2;
inline constexpr Rights kRightStop = 4;
inline constexpr Rights kAllRights = kRightRead | kRightSubmit | kRightStop;

// Every authenticated user, as a principal.
inline constexpr char kAnyUser[] = "*";

// "read", "submit" or "stop" (for a single bit); "" for anything else.
absl::string_view RightName(Rights right);
// Names of the bits set, in the order read, submit, stop.
std::vector<std::string> RightNames(Rights rights);
// The union of `names` (each "read", "submit" or "stop", any case);
// InvalidArgument naming the first unknown one, or when there are none.
absl::StatusOr<Rights> ParseRights(const std::vector<std::string>& names);
// The same, ignoring unknown names (stored grants; see acl.proto).
Rights KnownRights(const std::vector<std::string>& names);

// A principal is a user certificate's CN or "*". It becomes a key segment,
// so '/' and control characters are refused, as is "".
absl::Status ValidatePrincipal(absl::string_view principal);

struct AclEntry {
  Rights rights = 0;
  int64_t mod_revision = 0;  // of its key, for compare-and-swap updates
};

struct AclState {
  bool enabled = false;
  std::string changed_by;  // who last switched enforcement
  int64_t changed_unix_ms = 0;
  // namespace -> principal -> rights (0 when the stored grant names no
  // right this scheduler knows).
  std::map<std::string, std::map<std::string, AclEntry>> grants;
};

}  // namespace berth::sched

#endif  // BERTH_SCHEDULER_STATE_ACL_H_
