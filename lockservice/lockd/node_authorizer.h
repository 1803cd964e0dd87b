// The node authorizer: what a berth-agent's certificate may change in
// lockd (issue #16; Kubernetes' node authorizer and NodeRestriction do the
// same for kubelets). Without it any agent could rewrite another node's
// registration, report status for allocations it does not run, or keep a
// dead scheduler's lease alive.
//
// A caller whose verified client certificate has OU "agent" (berth cert
// issue --kind agent --name <node>) may only:
//  * put or delete /berth/nodes/<node>, its registration;
//  * put or delete /berth/status/<alloc> for an allocation placed on it,
//    i.e. while /berth/allocs/<node>/<alloc> exists;
//  * do those inside a Txn (compares and reads are free);
//  * grant leases, and renew, revoke or attach keys to a lease it owns: one
//    whose keys are all keys it may write and that holds or waits for no
//    lock (a fresh lease has none);
//  * read anything (reads change nothing; the agents need the allocations
//    and the cluster view).
// Everything else (locks, elections, compaction, other keys, ranges of
// deletes, membership) is PermissionDenied with a message that names the
// node, what it tried and the rule. Callers without a certificate, or with
// another kind's, are not restricted here.
//
// The key layout is the scheduler's (scheduler/state/keys.h); lockd does
// not link the scheduler, so the three prefixes are repeated below and a
// test keeps them in step.
//
// Checks run against the replica's applied state before proposing, so a
// decision can be overtaken by a write that commits in between (an
// allocation removed just before its status is written). That costs at
// most one stale status write for an allocation the node did run.
#ifndef BERTH_LOCKSERVICE_LOCKD_NODE_AUTHORIZER_H_
#define BERTH_LOCKSERVICE_LOCKD_NODE_AUTHORIZER_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "lockservice/server/state_machine.h"
#include "proto/lockd_internal.pb.h"

namespace grpc {
class ServerContextBase;
}  // namespace grpc

namespace berth::lockd {

inline constexpr char kAuthzNodesPrefix[] = "/berth/nodes/";
inline constexpr char kAuthzAgentAllocsPrefix[] = "/berth/allocs/";
inline constexpr char kAuthzStatusPrefix[] = "/berth/status/";

// The node named by `ctx`'s client certificate if it is an agent's;
// nullopt for everyone else.
std::optional<std::string> AgentNodeOf(const grpc::ServerContextBase& ctx);

// May agent `node` propose `cmd`? OK or PermissionDenied.
absl::Status AuthorizeAgentCommand(absl::string_view node,
                                   const lockpb::Command& cmd,
                                   lock::StateMachine& sm);

// May agent `node` renew, revoke or attach a key to `lease`? A lease that
// does not exist is allowed through (the state machine answers NotFound).
absl::Status AuthorizeAgentLease(absl::string_view node, int64_t lease,
                                 lock::StateMachine& sm);

// PermissionDenied naming `what` if `ctx`'s caller is an agent (for the
// RPCs no agent may make: membership, defragmentation); OK otherwise.
absl::Status DenyAgent(const grpc::ServerContextBase& ctx,
                       absl::string_view what);

}  // namespace berth::lockd

#endif  // BERTH_LOCKSERVICE_LOCKD_NODE_AUTHORIZER_H_
