// Who may call what on the scheduler API, as pure functions of the ACL
// state (scheduler/state/acl.h) and the caller's verified certificate
// identity (common/tls/peer.h). No I/O, no clock: api_service.cc asks,
// acl_policy_test.cc covers every case.
//
// The rules (docs/security.md, "Namespace ACLs"):
// * ACLs off: everyone may do everything, as before ACLs existed.
// * ACLs on: a caller without a certificate identity is Unauthenticated.
//   Admins may do everything: a user certificate named "root", and any
//   certificate of kind "scheduler" or "server". A user certificate holds
//   the union of the rights granted to its CN and to "*" in a namespace;
//   a missing right is PermissionDenied naming the user, the right, the
//   namespace and the command that would grant it. An agent certificate
//   may read (agents may read all of /berth/ in lockd anyway); the API
//   refuses it every write, ACLs or not (api_service.h: NotAnAgent).
// * Switching enforcement on or off needs an admin identity even while it
//   is off, so nobody switches it on without being able to switch it off,
//   and a plaintext caller cannot switch it at all.
#ifndef BERTH_SCHEDULER_SERVER_ACL_POLICY_H_
#define BERTH_SCHEDULER_SERVER_ACL_POLICY_H_

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/tls/peer.h"
#include "scheduler/state/acl.h"

namespace berth::sched {

// The caller: nullopt when the call carried no verified certificate.
using Who = std::optional<tls::PeerIdentity>;

// Whether `who` is an ACL admin (see the file comment); independent of
// whether ACLs are on.
bool IsAclAdmin(const Who& who);

// The rights `who` holds in namespace `ns`: every right when ACLs are off
// or `who` is an admin, read for an agent, none without an identity.
Rights RightsIn(const AclState& acl, const Who& who, absl::string_view ns);

// OK when `who` holds `right` (one bit) in `ns`.
absl::Status AuthorizeRight(const AclState& acl, const Who& who, Rights right,
                            absl::string_view ns);
// OK when `who` may make a cluster-wide change (`what`, e.g. "DrainNode").
absl::Status AuthorizeAdmin(const AclState& acl, const Who& who,
                            absl::string_view what);
// OK when ACLs are off or `who` has a certificate identity (ListNodes,
// AclStatus, Audit, which filters what it returns).
absl::Status AuthorizeAuthenticated(const AclState& acl, const Who& who);
// OK when `who` may switch enforcement on or off: an admin identity,
// whatever the current state.
absl::Status AuthorizeAclSwitch(const Who& who);

// The caller for messages: user "alice", agent "a1", scheduler "s1", or
// "anonymous" without a certificate.
std::string DescribeCaller(const Who& who);

}  // namespace berth::sched

#endif  // BERTH_SCHEDULER_SERVER_ACL_POLICY_H_
