// Conversions between the agent's wire format (proto/agent.proto), its
// local records (agent/store) and the runtime's TaskSpec, plus the lockd key
// layout. Pure functions; thread-compatible.
#ifndef BERTH_AGENT_SERVER_ALLOC_CONVERT_H_
#define BERTH_AGENT_SERVER_ALLOC_CONVERT_H_

#include <sys/types.h>

#include <optional>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "agent/runtime/runtime.h"
#include "agent/store/alloc_record.h"
#include "proto/agent.pb.h"

namespace berth::agent {

// "/berth/nodes/<node>"
std::string NodeKey(absl::string_view node);
// "/berth/allocs/<node>/" (with the trailing slash: a watch prefix).
std::string AllocPrefix(absl::string_view node);
// "/berth/status/<alloc_id>"
std::string StatusKey(absl::string_view alloc_id);
// The alloc id of a key under AllocPrefix(node); InvalidArgument naming the
// key if it is not one.
absl::StatusOr<std::string> AllocIdFromKey(absl::string_view node,
                                           absl::string_view key);

// Parses a spec stored at `key` and checks it: the id must match the key's
// last component. Errors name the key and the field. Problems that concern
// running it (empty command, unknown user, ...) are left to CheckRunnable,
// so that they are reported as a FAILED allocation instead of ignored.
absl::StatusOr<agentpb::AllocationSpec> ParseAllocationSpec(
    absl::string_view node, absl::string_view key, absl::string_view value);

// Why `spec` cannot run on a node with `capacity` (its cpu, memory and
// pids; 0 = unknown): empty command, invalid health check, missing rootfs,
// negative limits or limits the node can never satisfy. The message names
// the field.
absl::Status CheckRunnable(const agentpb::AllocationSpec& spec,
                           const agentpb::NodeInfo& capacity);

// The task the runtime should run for `spec`. Ports are exported to the
// task as BERTH_PORT_<NAME>=<port>; BERTH_ALLOC_ID and BERTH_JOB are set
// too. Fails only when `spec.user` is not a known user.
absl::StatusOr<TaskSpec> ToTaskSpec(const agentpb::AllocationSpec& spec,
                                    const std::string& sandbox_dir);

// The uid and primary gid of `user` (a name or a numeric uid) from the
// passwd database; InvalidArgument naming it when there is no such user.
absl::StatusOr<std::pair<uid_t, gid_t>> LookupUser(const std::string& user);

// SIGTERM .. SIGKILL grace for `spec` (default 5s).
absl::Duration KillTimeout(const agentpb::AllocationSpec& spec);

agentpb::AllocState ToProtoState(AllocState state);

// The status to report for `record`; `usage` is the latest sample if any.
agentpb::AllocationStatus ToStatus(const AllocRecord& record,
                                   absl::string_view node,
                                   const std::optional<Usage>& usage,
                                   int64_t observed_revision, absl::Time now);

}  // namespace berth::agent

#endif  // BERTH_AGENT_SERVER_ALLOC_CONVERT_H_
