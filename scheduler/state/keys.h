// The scheduler's key space in lockd. Names are DNS labels (no '/' or
// '.'), so keys and allocation ids split unambiguously.
//
//   /berth/namespaces/<ns>                  "" (existence only)
//   /berth/jobs/<ns>/<job>                  jobpb::JobRecord
//   /berth/sched/allocs/<alloc>             jobpb::Allocation (scheduler's)
//   /berth/allocs/<node>/<alloc>            agentpb::AllocationSpec (agent's)
//   /berth/status/<alloc>                   agentpb::AllocationStatus
//   /berth/nodes/<node>                     agentpb::NodeInfo (ephemeral)
//   /berth/drain/<node>                     jobpb::NodeDrain (draining)
//   /berth/cron/<ns>/<job>/marker           jobpb::CronMarker
//   /berth/cron/<ns>/<job>/runs/<tick>      jobpb::CronRun
//   /berth/events/<ns>/<job>/<seq>          jobpb::Event
//   /berth/acl/<ns>/<principal>             aclpb::AclGrant
//   /berth/acl-config                       aclpb::AclConfig (ACLs on/off)
//
// Allocation ids: "<ns>.<job>.<slot>.<generation>" for services and batch
// work, "<ns>.<job>.t<tick>" for cron runs (deterministic from the tick, so
// a run can only ever be created once).
#ifndef BERTH_SCHEDULER_STATE_KEYS_H_
#define BERTH_SCHEDULER_STATE_KEYS_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace berth::sched {

inline constexpr char kBerthPrefix[] = "/berth/";
inline constexpr char kJobsPrefix[] = "/berth/jobs/";
inline constexpr char kSchedAllocsPrefix[] = "/berth/sched/allocs/";
inline constexpr char kAgentAllocsPrefix[] = "/berth/allocs/";
inline constexpr char kStatusPrefix[] = "/berth/status/";
inline constexpr char kNodesPrefix[] = "/berth/nodes/";
inline constexpr char kDrainPrefix[] = "/berth/drain/";
inline constexpr char kNamespacesPrefix[] = "/berth/namespaces/";
inline constexpr char kCronPrefix[] = "/berth/cron/";
inline constexpr char kEventsPrefix[] = "/berth/events/";
inline constexpr char kAclPrefix[] = "/berth/acl/";
inline constexpr char kAclConfigKey[] = "/berth/acl-config";
// The lockd election every berth-scheduler campaigns in; its fencing token
// guards every scheduler write.
inline constexpr char kLeaderElection[] = "/berth/scheduler/leader";
inline constexpr char kDefaultNamespace[] = "default";

std::string NamespaceKey(absl::string_view ns);
std::string JobKey(absl::string_view ns, absl::string_view job);
std::string SchedAllocKey(absl::string_view alloc_id);
std::string AgentAllocKey(absl::string_view node, absl::string_view alloc_id);
std::string StatusKey(absl::string_view alloc_id);
std::string NodeKey(absl::string_view node);
std::string DrainKey(absl::string_view node);
std::string CronMarkerKey(absl::string_view ns, absl::string_view job);
std::string CronRunsPrefix(absl::string_view ns, absl::string_view job);
// Ticks are zero-padded so runs list in time order.
std::string CronRunKey(absl::string_view ns, absl::string_view job,
                       int64_t tick_unix);
std::string EventsPrefix(absl::string_view ns, absl::string_view job);
std::string EventKey(absl::string_view ns, absl::string_view job, int64_t seq);
// Principals may hold any character but '/' (acl.h: ValidatePrincipal).
std::string AclKey(absl::string_view ns, absl::string_view principal);
std::string AclNamespacePrefix(absl::string_view ns);

std::string SlotAllocId(absl::string_view ns, absl::string_view job,
                        int32_t slot, int64_t generation);
std::string CronAllocId(absl::string_view ns, absl::string_view job,
                        int64_t tick_unix);
// The namespace an allocation id starts with (namespaces hold no '.').
std::string NamespaceOfAllocId(absl::string_view alloc_id);

// What a key under /berth/ names. Unrecognised keys give kOther.
struct KeyRef {
  enum class Type {
    kOther,
    kNamespace,
    kJob,
    kSchedAlloc,
    kAgentAlloc,
    kStatus,
    kNode,
    kDrain,
    kCronMarker,
    kCronRun,
    kEvent,
    kAcl,
    kAclConfig,
  };
  Type type = Type::kOther;
  std::string ns;
  std::string job;
  std::string alloc_id;
  std::string node;
  std::string principal;
  int64_t tick_unix = 0;
  int64_t seq = 0;
};
KeyRef ParseKey(absl::string_view key);

}  // namespace berth::sched

#endif  // BERTH_SCHEDULER_STATE_KEYS_H_
